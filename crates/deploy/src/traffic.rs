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

impl<T: TrafficBackend> TrafficBackend for &T {
    async fn set_weights(&self, w: Weights) -> anyhow::Result<()> {
        (**self).set_weights(w).await
    }

    async fn weights(&self) -> anyhow::Result<Weights> {
        (**self).weights().await
    }
}

/// Which of a backend's two slots a deployment treats as blue. Slots
/// alternate: the slot a deployment promotes is blue to the next one, so
/// the controller sees "blue" and "green" while the load balancer keeps its
/// two fixed slots (HAProxy servers, ALB target groups) named `blue` and `green`.
#[derive(Debug, Clone)]
pub struct Oriented<B> {
    pub inner: B,
    /// The slot named `green` is the one serving (blue to this deployment).
    pub swapped: bool,
}

impl<B> Oriented<B> {
    fn turn(&self, w: Weights) -> Weights {
        if self.swapped {
            Weights {
                blue: w.green,
                green: w.blue,
            }
        } else {
            w
        }
    }
}

impl<B: TrafficBackend> TrafficBackend for Oriented<B> {
    async fn set_weights(&self, w: Weights) -> anyhow::Result<()> {
        self.inner.set_weights(self.turn(w)).await
    }

    async fn weights(&self) -> anyhow::Result<Weights> {
        Ok(self.turn(self.inner.weights().await?))
    }
}

/// The `haproxy` program: on PATH, else Debian's `/usr/sbin/haproxy`
/// (sbin is not on every user's PATH).
pub fn haproxy_program() -> anyhow::Result<std::path::PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("haproxy"))
            .find(|f| f.is_file())
    });
    on_path
        .or_else(|| Some(std::path::PathBuf::from("/usr/sbin/haproxy")).filter(|p| p.is_file()))
        .context("haproxy is not installed (Debian: apt-get install haproxy)")
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
        self.point(&self.green, addr).await
    }

    /// Point `server` (one of the two slots) at `addr`.
    pub async fn point(&self, server: &str, addr: std::net::SocketAddr) -> anyhow::Result<()> {
        let answer = self
            .command(&format!(
                "set server {}/{server} addr {} port {}",
                self.backend,
                addr.ip(),
                addr.port()
            ))
            .await?;
        if answer.starts_with("No such") || answer.contains("Require") || answer.contains("nvalid")
        {
            bail!("HAProxy refused the new address of {server}: {answer}");
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

/// An AWS Application Load Balancer: the blue and green target groups of a
/// weighted forward action, on a listener rule (`rule_arn`) or, without one,
/// on the listener's default action. Weights are set with
/// `ModifyRule`/`ModifyListener` and read back with `DescribeRules`/
/// `DescribeListeners`.
#[derive(Debug, Clone)]
pub struct Alb {
    pub client: aws_sdk_elasticloadbalancingv2::Client,
    pub listener_arn: String,
    pub rule_arn: Option<String>,
    pub blue_target_group: String,
    pub green_target_group: String,
}

/// An ELBv2 client: `endpoint`, `region` and static credentials when
/// given (moto in tests), otherwise the AWS environment (task role, profile).
pub async fn elbv2_client(
    region: Option<&str>,
    endpoint: Option<&str>,
    credentials: Option<(&str, &str)>,
) -> aws_sdk_elasticloadbalancingv2::Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some((id, secret)) = credentials {
        loader =
            loader.credentials_provider(aws_sdk_elasticloadbalancingv2::config::Credentials::new(
                id,
                secret,
                None,
                None,
                "p360-config",
            ));
    }
    aws_sdk_elasticloadbalancingv2::Client::new(&loader.load().await)
}

impl Alb {
    /// The weighted forward action for `w` (also what a listener or rule is
    /// created with).
    pub fn forward(&self, w: Weights) -> aws_sdk_elasticloadbalancingv2::types::Action {
        use aws_sdk_elasticloadbalancingv2::types::{
            Action, ActionTypeEnum, ForwardActionConfig, TargetGroupStickinessConfig,
            TargetGroupTuple,
        };
        let group = |arn: &str, weight: u8| {
            TargetGroupTuple::builder()
                .target_group_arn(arn)
                .weight(i32::from(weight))
                .build()
        };
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(
                ForwardActionConfig::builder()
                    .target_groups(group(&self.blue_target_group, w.blue))
                    .target_groups(group(&self.green_target_group, w.green))
                    .target_group_stickiness_config(
                        TargetGroupStickinessConfig::builder()
                            .enabled(false)
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    fn weights_of(
        &self,
        actions: &[aws_sdk_elasticloadbalancingv2::types::Action],
    ) -> anyhow::Result<Weights> {
        let groups = actions
            .iter()
            .find_map(|a| a.forward_config())
            .map(|f| f.target_groups())
            .context("the ALB action is not a weighted forward")?;
        let weight = |arn: &str| {
            groups
                .iter()
                .find(|g| g.target_group_arn() == Some(arn))
                .and_then(|g| g.weight())
                .unwrap_or(0)
                .clamp(0, 100) as u8
        };
        Ok(Weights {
            blue: weight(&self.blue_target_group),
            green: weight(&self.green_target_group),
        })
    }
}

fn aws_error<E: std::error::Error + Send + Sync + 'static>(
    e: aws_sdk_elasticloadbalancingv2::error::SdkError<E>,
) -> anyhow::Error {
    anyhow::anyhow!(
        "{}",
        aws_sdk_elasticloadbalancingv2::error::DisplayErrorContext(e)
    )
}

impl TrafficBackend for Alb {
    async fn set_weights(&self, w: Weights) -> anyhow::Result<()> {
        let action = self.forward(w);
        match &self.rule_arn {
            Some(rule) => {
                self.client
                    .modify_rule()
                    .rule_arn(rule)
                    .actions(action)
                    .send()
                    .await
                    .map_err(aws_error)
                    .context("ModifyRule")?;
            }
            None => {
                self.client
                    .modify_listener()
                    .listener_arn(&self.listener_arn)
                    .default_actions(action)
                    .send()
                    .await
                    .map_err(aws_error)
                    .context("ModifyListener")?;
            }
        }
        tracing::info!(blue = w.blue, green = w.green, listener = %self.listener_arn, "ALB weights set");
        Ok(())
    }

    async fn weights(&self) -> anyhow::Result<Weights> {
        match &self.rule_arn {
            Some(rule) => {
                let out = self
                    .client
                    .describe_rules()
                    .rule_arns(rule)
                    .send()
                    .await
                    .map_err(aws_error)
                    .context("DescribeRules")?;
                let rule = out.rules().first().context("the listener rule is gone")?;
                self.weights_of(rule.actions())
            }
            None => {
                let out = self
                    .client
                    .describe_listeners()
                    .listener_arns(&self.listener_arn)
                    .send()
                    .await
                    .map_err(aws_error)
                    .context("DescribeListeners")?;
                let listener = out.listeners().first().context("the listener is gone")?;
                self.weights_of(listener.default_actions())
            }
        }
    }
}
