//! HTTP responses both handlers build (the `async` one in `server`, the `ffi` one in
//! `dispatch`, the gRPC one in `grpc`): a leaf below them, so they import it rather than each
//! other. [`Body`] is every response's body: one chunk of bytes, then trailers if any (gRPC
//! puts its status there).

use std::convert::Infallible;
use std::future::{Future, Ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::body::{Bytes, Frame, SizeHint};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{HeaderMap, Response};

use crate::metrics::{self, ServerMetrics};

/// A response body of one chunk and optional trailers. Its length is exact, so HTTP/1.1 sends
/// a `content-length` (and no trailers); HTTP/2 sends the trailers as the last HEADERS frame.
#[derive(Debug, Default)]
pub struct Body {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Body {
    /// `data` alone.
    pub(crate) fn new(data: Bytes) -> Self {
        Body {
            data: (!data.is_empty()).then_some(data),
            trailers: None,
        }
    }

    /// `data`, then `trailers`.
    pub(crate) fn with_trailers(data: Bytes, trailers: HeaderMap) -> Self {
        Body {
            trailers: Some(trailers),
            ..Body::new(data)
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(data) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

/// A response future that is either ready at once (the `async` variant's plain requests: no
/// allocation) or boxed (a request whose body must be read, or whose work is awaited).
#[allow(
    clippy::large_enum_variant,
    reason = "the ready response is every plain request's: boxing it would allocate per request"
)]
pub(crate) enum Reply {
    Now(Ready<Result<Response<Body>, Infallible>>),
    Later(Pin<Box<dyn Future<Output = Response<Body>> + Send>>),
}

impl Reply {
    /// A response ready at once.
    pub(crate) fn now(response: Response<Body>) -> Self {
        Reply::Now(std::future::ready(Ok(response)))
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reply::Now(_) => "Reply::Now",
            Reply::Later(_) => "Reply::Later",
        })
    }
}

impl Future for Reply {
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Reply::Now(response) => Pin::new(response).poll(cx),
            Reply::Later(future) => future.as_mut().poll(cx).map(Ok),
        }
    }
}

/// `/metrics` in Prometheus text format.
pub(crate) fn metrics_response(metrics: &Arc<ServerMetrics>) -> Response<Body> {
    text_response(Bytes::from(metrics.render()), metrics::CONTENT_TYPE)
}

/// A 200 with `body` of `content_type`.
pub(crate) fn text_response(body: Bytes, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::new(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    #[tokio::test]
    async fn a_body_yields_its_data_then_its_trailers() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        let body = Body::with_trailers(Bytes::from_static(b"abc"), trailers);
        assert_eq!(hyper::body::Body::size_hint(&body).exact(), Some(3));
        let collected = body.collect().await.expect("infallible");
        assert_eq!(
            collected.trailers().and_then(|t| t.get("grpc-status")),
            Some(&HeaderValue::from_static("0"))
        );
        assert_eq!(collected.to_bytes(), Bytes::from_static(b"abc"));
    }

    #[tokio::test]
    async fn an_empty_body_ends_at_once() {
        let body = Body::new(Bytes::new());
        assert!(hyper::body::Body::is_end_stream(&body));
        let collected = body.collect().await.expect("infallible");
        assert!(collected.trailers().is_none());
        assert!(collected.to_bytes().is_empty());
    }
}
