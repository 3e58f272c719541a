//! HTTP responses both handlers build (the `async` one in `server`, the `ffi` one in
//! `dispatch`): a leaf below both, so the two import it rather than each other.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::Response;
use std::sync::Arc;

use crate::metrics::{self, ServerMetrics};

/// `/metrics` in Prometheus text format.
pub(crate) fn metrics_response(metrics: &Arc<ServerMetrics>) -> Response<Full<Bytes>> {
    text_response(Bytes::from(metrics.render()), metrics::CONTENT_TYPE)
}

/// A 200 with `body` of `content_type`.
pub(crate) fn text_response(body: Bytes, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
