//! Where traffic goes: a share for blue and a share for green, in percent.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Traffic shares in percent; they add up to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    pub blue: u8,
    pub green: u8,
}

impl Weights {
    pub const ALL_BLUE: Weights = Weights {
        blue: 100,
        green: 0,
    };

    /// `green` percent to green, the rest to blue.
    pub fn green(green: u8) -> anyhow::Result<Weights> {
        if green > 100 {
            bail!("a traffic share is 0 to 100 percent, not {green}");
        }
        Ok(Weights {
            blue: 100 - green,
            green,
        })
    }
}

/// Something that splits traffic between blue and green.
pub trait TrafficBackend: Send + Sync {
    /// Apply `w`; effective for new requests when this returns.
    fn set_weights(&self, w: Weights) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// The weights in force.
    fn weights(&self) -> impl Future<Output = anyhow::Result<Weights>> + Send;
}

/// HAProxy through its runtime API (`stats socket ... level admin`): the
/// blue and green servers of one backend, weighted 0 to 100.
#[derive(Debug, Clone)]
pub struct Haproxy {
    /// `host:port` of a TCP stats socket, or the path of a Unix one.
    pub admin: String,
    pub backend: String,
    pub blue: String,
    pub green: String,
}

impl Haproxy {
    /// Send one command; the runtime API answers and closes the connection.
    pub async fn command(&self, cmd: &str) -> anyhow::Result<String> {
        let exchange = async {
            let mut answer = String::new();
            if self.admin.starts_with('/') {
                let mut s = tokio::net::UnixStream::connect(&self.admin).await?;
                s.write_all(format!("{cmd}\n").as_bytes()).await?;
                s.read_to_string(&mut answer).await?;
            } else {
                let mut s = tokio::net::TcpStream::connect(&self.admin).await?;
                s.write_all(format!("{cmd}\n").as_bytes()).await?;
                s.read_to_string(&mut answer).await?;
            }
            anyhow::Ok(answer)
        };
        let answer = tokio::time::timeout(Duration::from_secs(5), exchange)
            .await
            .with_context(|| format!("HAProxy at {} did not answer in 5 s", self.admin))?
            .with_context(|| format!("cannot reach HAProxy's runtime API at {}", self.admin))?;
        Ok(answer.trim().to_string())
    }

    /// Point the green server at `addr` (the new instance), e.g. before a
    /// rollout; its health checks follow.
    pub async fn point_green(&self, addr: std::net::SocketAddr) -> anyhow::Result<()> {
        let answer = self
            .command(&format!(
                "set server {}/{} addr {} port {}",
                self.backend,
                self.green,
                addr.ip(),
                addr.port()
            ))
            .await?;
        if answer.starts_with("No such") || answer.contains("Require") || answer.contains("nvalid")
        {
            bail!(
                "HAProxy refused the new address of {}: {answer}",
                self.green
            );
        }
        Ok(())
    }

    async fn weight_of(&self, server: &str) -> anyhow::Result<u8> {
        let answer = self
            .command(&format!("get weight {}/{server}", self.backend))
            .await?;
        // "25 (initial 100)"
        answer
            .split_whitespace()
            .next()
            .and_then(|w| w.parse().ok())
            .with_context(|| format!("HAProxy answered `{answer}` for the weight of {server}"))
    }

    async fn set_weight(&self, server: &str, weight: u8) -> anyhow::Result<()> {
        let answer = self
            .command(&format!(
                "set server {}/{server} weight {weight}",
                self.backend
            ))
            .await?;
        // Success is an empty answer; anything else is HAProxy's complaint.
        if !answer.is_empty() {
            bail!("HAProxy refused the weight of {server}: {answer}");
        }
        Ok(())
    }
}

impl TrafficBackend for Haproxy {
    async fn set_weights(&self, w: Weights) -> anyhow::Result<()> {
        // Raise the side that gains first, so that there is never a moment
        // with both at zero.
        if w.green >= self.weight_of(&self.green).await? {
            self.set_weight(&self.green, w.green).await?;
            self.set_weight(&self.blue, w.blue).await?;
        } else {
            self.set_weight(&self.blue, w.blue).await?;
            self.set_weight(&self.green, w.green).await?;
        }
        tracing::info!(blue = w.blue, green = w.green, backend = %self.backend, "traffic weights set");
        Ok(())
    }

    async fn weights(&self) -> anyhow::Result<Weights> {
        Ok(Weights {
            blue: self.weight_of(&self.blue).await?,
            green: self.weight_of(&self.green).await?,
        })
    }
}
