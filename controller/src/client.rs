//! Talking to one agent: connect, describe, check a plan, execute it and stream its events,
//! cancel.
//!
//! Every call has a deadline (invariant 7 of ARCHITECTURE.md): connecting, `Describe`, `Check`
//! and `Cancel` have short fixed ones; an `Execute` stream may last as long as the plan needs
//! plus a margin, and HTTP/2 keep-alive notices a silent agent long before that.

use std::time::Duration;

use numaload_proto::v1::agent_client::AgentClient;
use numaload_proto::v1::{CancelRequest, DescribeRequest, HostInfo, Placed, RunEvent, RunPlan};
use tonic::transport::{Channel, Endpoint};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("agent address `{address}` is not usable: {reason}; give it as HOST:PORT, e.g. 127.0.0.1:7070")]
    Address { address: String, reason: String },
    #[error("cannot reach the agent at {address}: {reason}; is `numaload agent` running there?")]
    Connect { address: String, reason: String },
    #[error("agent {address} refused the plan: {message}")]
    InvalidPlan { address: String, message: String },
    #[error("agent {address} refused the run: {message}")]
    Refused { address: String, message: String },
    #[error("agent {address}: {message}")]
    Call { address: String, message: String },
    #[error("agent {address} sent nothing for {waited:?}: giving up on it")]
    Silent { address: String, waited: Duration },
}

/// A connected agent.
#[derive(Debug, Clone)]
pub struct Agent {
    pub address: String,
    client: AgentClient<Channel>,
}

impl Agent {
    /// Connects to `address` (HOST:PORT), over mutual TLS when `tls` is given.
    pub async fn connect(
        address: &str,
        tls: Option<&tonic::transport::ClientTlsConfig>,
    ) -> Result<Agent, ClientError> {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let uri = if address.contains("://") {
            address.to_owned()
        } else {
            format!("{scheme}://{address}")
        };
        let endpoint = Endpoint::from_shared(uri).map_err(|e| ClientError::Address {
            address: address.to_owned(),
            reason: e.to_string(),
        })?;
        let endpoint = match tls {
            Some(tls) => endpoint
                .tls_config(tls.clone())
                .map_err(|e| ClientError::Address {
                    address: address.to_owned(),
                    reason: format!("TLS: {e}"),
                })?,
            None => endpoint,
        };
        let channel = endpoint
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true)
            .connect()
            .await
            .map_err(|e| ClientError::Connect {
                address: address.to_owned(),
                reason: causes(&e),
            })?;
        Ok(Agent {
            address: address.to_owned(),
            client: AgentClient::new(channel),
        })
    }

    pub async fn describe(&mut self) -> Result<HostInfo, ClientError> {
        let mut request = tonic::Request::new(DescribeRequest {});
        request.set_timeout(CALL_TIMEOUT);
        self.client
            .describe(request)
            .await
            .map(|r| r.into_inner())
            .map_err(|s| self.error(s))
    }

    /// Checks the plan as `execute` would before launching anything, and launches nothing:
    /// where each layout would run, or [`ClientError::InvalidPlan`] with the agent's refusal.
    pub async fn check(&mut self, plan: RunPlan) -> Result<Vec<Placed>, ClientError> {
        let mut request = tonic::Request::new(plan);
        request.set_timeout(CALL_TIMEOUT);
        self.client
            .check(request)
            .await
            .map(|r| r.into_inner().layouts)
            .map_err(|s| self.error(s))
    }

    /// Starts the plan; events then come from [`EventStream::next`].
    pub async fn execute(
        &mut self,
        plan: RunPlan,
        deadline: Duration,
    ) -> Result<EventStream, ClientError> {
        let mut request = tonic::Request::new(plan);
        request.set_timeout(deadline);
        let stream = self
            .client
            .execute(request)
            .await
            .map_err(|s| self.error(s))?
            .into_inner();
        Ok(EventStream {
            address: self.address.clone(),
            stream,
        })
    }

    /// The agent's clock, Unix ns.
    pub async fn clock(&mut self) -> Result<u64, ClientError> {
        let mut request = tonic::Request::new(numaload_proto::v1::ClockRequest {});
        request.set_timeout(CALL_TIMEOUT);
        self.client
            .clock(request)
            .await
            .map(|r| r.into_inner().now_unix_ns)
            .map_err(|s| self.error(s))
    }

    /// Tells the agent when to begin `layout` (its own clock, Unix ns).
    pub async fn start(
        &mut self,
        run_id: &str,
        layout: &str,
        start_at_unix_ns: u64,
        targets: Vec<numaload_proto::v1::LoadTarget>,
    ) -> Result<bool, ClientError> {
        let mut request = tonic::Request::new(numaload_proto::v1::StartRequest {
            run_id: run_id.to_owned(),
            layout: layout.to_owned(),
            start_at_unix_ns,
            targets,
        });
        request.set_timeout(CALL_TIMEOUT);
        self.client
            .start(request)
            .await
            .map(|r| r.into_inner().accepted)
            .map_err(|s| self.error(s))
    }

    pub async fn cancel(&mut self, run_id: &str) -> Result<bool, ClientError> {
        let mut request = tonic::Request::new(CancelRequest {
            run_id: run_id.to_owned(),
        });
        request.set_timeout(CALL_TIMEOUT);
        self.client
            .cancel(request)
            .await
            .map(|r| r.into_inner().cancelled)
            .map_err(|s| self.error(s))
    }

    fn error(&self, status: tonic::Status) -> ClientError {
        let address = self.address.clone();
        match status.code() {
            tonic::Code::InvalidArgument => ClientError::InvalidPlan {
                address,
                message: status.message().to_owned(),
            },
            tonic::Code::ResourceExhausted | tonic::Code::PermissionDenied => {
                ClientError::Refused {
                    address,
                    message: status.message().to_owned(),
                }
            }
            _ => ClientError::Call {
                address,
                message: format!("{}: {}", code_name(status.code()), status.message()),
            },
        }
    }
}

/// What a failed event stream means for the user: a broken connection (the agent died, was cut
/// off or stopped answering keep-alive pings) reads differently from an error the agent sent.
fn stream_failure(status: &tonic::Status) -> String {
    let transport = matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown
    ) && (status.message().contains("h2 protocol error")
        || status.message().contains("transport")
        || status.message().contains("connection")
        || status.message().contains("keep-alive")
        || status.message().contains("broken pipe"));
    if transport {
        format!(
            "connection lost mid-run (the agent died, was cut off, or stopped answering keep-alive \
             pings): {}",
            status.message()
        )
    } else {
        format!("{}: {}", code_name(status.code()), status.message())
    }
}

fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::Unavailable => "unavailable",
        tonic::Code::DeadlineExceeded => "deadline exceeded",
        tonic::Code::Cancelled => "cancelled",
        tonic::Code::Internal => "internal error",
        _ => "error",
    }
}

/// The events of one `Execute` call.
#[derive(Debug)]
pub struct EventStream {
    address: String,
    stream: tonic::Streaming<RunEvent>,
}

impl EventStream {
    /// The next event, `None` at the end; an error if the agent fails or stays silent longer
    /// than `silence` (it sends thread samples every second while measuring).
    pub async fn next(&mut self, silence: Duration) -> Result<Option<RunEvent>, ClientError> {
        match tokio::time::timeout(silence, self.stream.message()).await {
            Err(_) => Err(ClientError::Silent {
                address: self.address.clone(),
                waited: silence,
            }),
            Ok(Ok(event)) => Ok(event),
            Ok(Err(status)) => Err(ClientError::Call {
                address: self.address.clone(),
                message: stream_failure(&status),
            }),
        }
    }
}

/// An error and its causes as one line, each message once: the transport's layers repeat one
/// another ("transport error: tcp connect error: tcp connect error: Connection refused") and
/// their outermost word says nothing the caller's own message does not.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if text != "transport error" && parts.last() != Some(&text) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connect_says_why_once() {
        // A port nothing listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a port")
            .port();
        let error = Agent::connect(&format!("127.0.0.1:{port}"), None)
            .await
            .expect_err("nothing listens");
        let text = error.to_string();
        assert!(text.contains("Connection refused"), "{text}");
        assert_eq!(text.matches("connect error").count(), 1, "{text}");
        assert!(!text.contains("transport error"), "{text}");
        assert!(
            text.ends_with("is `numaload agent` running there?"),
            "{text}"
        );
    }
}
