//! The traffic backends and the rollout controller on each of them: HAProxy
//! (Debian's `haproxy`, really splitting a frontend between two HTTP
//! servers) and an AWS ALB on moto_server (PyPI moto[server], ELBv2). The
//! controller cases read green through a scripted metric source, so that
//! each case is the same on both backends.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Mutex;

use deploy::{
    Alb, Directive, Haproxy, MetricSource, Outcome, Plan, Reading, Supervisor, TrafficBackend,
    Triggers, Weights, rollout,
};

mod common;

use common::{Proc, free_port};

/// An HTTP server answering its colour.
async fn colour(name: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route("/", axum::routing::get(move || async move { name }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

async fn split(client: &reqwest::Client, front: &str, n: usize) -> (usize, usize) {
    let (mut blue, mut green) = (0, 0);
    for _ in 0..n {
        match client
            .get(front)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .as_str()
        {
            "blue" => blue += 1,
            "green" => green += 1,
            other => panic!("unexpected answer {other}"),
        }
    }
    (blue, green)
}

#[tokio::test]
async fn weights_move_traffic_between_blue_and_green() {
    let (blue, green) = (colour("blue").await, colour("green").await);
    let (_haproxy, lb, front) = haproxy_for(blue, green).await;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{front}/");

    assert_eq!(lb.weights().await.unwrap(), Weights::ALL_BLUE);
    assert_eq!(split(&client, &url, 40).await, (40, 0));

    lb.set_weights(Weights::green(25).unwrap()).await.unwrap();
    assert_eq!(
        lb.weights().await.unwrap(),
        Weights {
            blue: 75,
            green: 25
        }
    );
    let (b, g) = split(&client, &url, 400).await;
    assert!(
        (70..=130).contains(&g),
        "25 % of 400 to green, got {g} (blue {b})"
    );

    lb.set_weights(Weights::green(100).unwrap()).await.unwrap();
    assert_eq!(split(&client, &url, 40).await, (0, 40), "all green");
    lb.set_weights(Weights::ALL_BLUE).await.unwrap();
    assert_eq!(
        split(&client, &url, 40).await,
        (40, 0),
        "back to blue at once"
    );

    assert!(Weights::green(101).is_err());
    let wrong = Haproxy {
        backend: "nope".into(),
        ..lb.clone()
    };
    let err = wrong.set_weights(Weights::ALL_BLUE).await.unwrap_err();
    assert!(format!("{err:#}").contains("HAProxy"), "{err:#}");
}

/// HAProxy with a backend `app` of servers blue (weight 100) and green (0),
/// round robin; returns the process, the backend handle and the frontend port.
async fn haproxy_for(blue: u16, green: u16) -> (Proc, Haproxy, u16) {
    let (front, admin) = (free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("p360-haproxy-{}-{front}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n  stats socket ipv4@127.0.0.1:{admin} level admin\n\
             defaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
             frontend fe\n  bind 127.0.0.1:{front}\n  default_backend app\n\
             backend app\n  balance roundrobin\n\
               server blue 127.0.0.1:{blue} weight 100\n  server green 127.0.0.1:{green} weight 0\n"
        ),
    )
    .unwrap();
    let proc = Proc(
        Command::new(deploy::haproxy_program().unwrap())
            .args(["-db", "-f", cfg.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy"),
    );
    let lb = Haproxy {
        admin: format!("127.0.0.1:{admin}"),
        backend: "app".into(),
        blue: "blue".into(),
        green: "green".into(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while lb.weights().await.is_err() {
        assert!(Instant::now() < deadline, "haproxy did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // HAProxy read its configuration at start.
    let _ = std::fs::remove_dir_all(&dir);
    (proc, lb, front)
}

/// moto's EC2 query API, for the VPC and subnets an ALB needs.
async fn ec2(endpoint: &str, params: &[(&str, &str)]) -> String {
    let mut form: Vec<(&str, &str)> = vec![("Version", "2016-11-15")];
    form.extend_from_slice(params);
    reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20261127/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=x")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(
            form.iter()
                .map(|(k, v)| format!("{k}={}", v.replace('/', "%2F")))
                .collect::<Vec<_>>()
                .join("&"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn xml_value(xml: &str, tag: &str) -> String {
    let start = xml
        .find(&format!("<{tag}>"))
        .unwrap_or_else(|| panic!("no {tag} in {xml}"))
        + tag.len()
        + 2;
    xml[start..start + xml[start..].find('<').unwrap()].to_string()
}

/// An ALB on moto: a listener whose rule forwards to blue (100) and green (0).
async fn alb_on_moto(use_rule: bool) -> (Proc, Alb) {
    let port = free_port();
    let moto = Proc(
        Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (PyPI moto[server])"),
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{endpoint}/moto-api/")).await.is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let vpc = xml_value(
        &ec2(
            &endpoint,
            &[("Action", "CreateVpc"), ("CidrBlock", "10.0.0.0/16")],
        )
        .await,
        "vpcId",
    );
    let mut subnets = Vec::new();
    for (cidr, az) in [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")] {
        let xml = ec2(
            &endpoint,
            &[
                ("Action", "CreateSubnet"),
                ("VpcId", &vpc),
                ("CidrBlock", cidr),
                ("AvailabilityZone", az),
            ],
        )
        .await;
        subnets.push(xml_value(&xml, "subnetId"));
    }
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_sdk_elasticloadbalancingv2::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    let client = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let lb = client
        .create_load_balancer()
        .name("p360-test")
        .set_subnets(Some(subnets))
        .send()
        .await
        .unwrap();
    let lb_arn = lb.load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let mut groups = Vec::new();
    for name in ["p360-blue", "p360-green"] {
        let tg = client
            .create_target_group()
            .name(name)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(8360)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        groups.push(
            tg.target_groups()[0]
                .target_group_arn()
                .unwrap()
                .to_string(),
        );
    }
    let mut alb = Alb {
        client: client.clone(),
        listener_arn: String::new(),
        rule_arn: None,
        blue_target_group: groups[0].clone(),
        green_target_group: groups[1].clone(),
    };
    let all_blue = alb.forward(Weights::ALL_BLUE);
    let listener = client
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .default_actions(all_blue.clone())
        .send()
        .await
        .unwrap();
    alb.listener_arn = listener.listeners()[0].listener_arn().unwrap().to_string();
    if use_rule {
        let rule = client
            .create_rule()
            .listener_arn(&alb.listener_arn)
            .priority(10)
            .conditions(
                aws_sdk_elasticloadbalancingv2::types::RuleCondition::builder()
                    .field("path-pattern")
                    .values("/*")
                    .build(),
            )
            .actions(all_blue)
            .send()
            .await
            .unwrap();
        alb.rule_arn = Some(rule.rules()[0].rule_arn().unwrap().to_string());
    }
    (moto, alb)
}

/// Green as a script: each reading adds `requests`, of which `errors` failed.
struct Scripted {
    ready: bool,
    requests: f64,
    errors: f64,
    state: Mutex<Reading>,
}

impl Scripted {
    fn new(ready: bool, requests: f64, errors: f64) -> Scripted {
        Scripted {
            ready,
            requests,
            errors,
            state: Mutex::new(Reading::default()),
        }
    }
}

impl MetricSource for Scripted {
    async fn read(&self) -> Reading {
        let mut r = self.state.lock().unwrap();
        r.requests += self.requests;
        r.errors += self.errors;
        r.latency_sum += self.requests * 0.02;
        r.latency_count += self.requests;
        r.ready = self.ready;
        r.db_up = Some(1.0);
        r.at = Some(Instant::now());
        r.clone()
    }
}

fn quick() -> Plan {
    Plan {
        dwell: Duration::from_millis(300),
        interval: Duration::from_millis(50),
        ready_timeout: Duration::from_millis(500),
        triggers: Triggers {
            window: Duration::from_secs(2),
            ..Triggers::default()
        },
        ..Plan::default()
    }
}

/// The controller's cases, on any backend.
async fn controller_suite<B: TrafficBackend>(lb: &B) {
    // A healthy green is promoted through every step.
    let mut seen = Vec::new();
    let outcome = rollout(
        lb,
        &Scripted::new(true, 20.0, 0.0),
        &quick(),
        |e: &deploy::Event| {
            if let deploy::Event::Weights(w) = e {
                seen.push(w.green);
            }
        },
    )
    .await
    .unwrap();
    assert!(matches!(outcome, Outcome::Promoted { .. }), "{outcome:?}");
    assert_eq!(seen, vec![5, 25, 50, 100]);
    assert_eq!(
        lb.weights().await.unwrap(),
        Weights {
            blue: 0,
            green: 100
        }
    );

    // A failing green is rolled back at the first step, all traffic to blue.
    lb.set_weights(Weights::ALL_BLUE).await.unwrap();
    let outcome = rollout(
        lb,
        &Scripted::new(true, 20.0, 3.0),
        &quick(),
        |_: &deploy::Event| {},
    )
    .await
    .unwrap();
    match outcome {
        Outcome::RolledBack {
            trigger, at_green, ..
        } => {
            assert_eq!((trigger, at_green), ("error_rate", 5));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(lb.weights().await.unwrap(), Weights::ALL_BLUE);

    // A green that never becomes ready gets no traffic at all.
    let outcome = rollout(
        lb,
        &Scripted::new(false, 0.0, 0.0),
        &quick(),
        |_: &deploy::Event| {},
    )
    .await
    .unwrap();
    assert!(
        matches!(
            outcome,
            Outcome::RolledBack {
                trigger: "readiness",
                at_green: 0,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(lb.weights().await.unwrap(), Weights::ALL_BLUE);

    // A resumed rollout starts at its step; an operator's promote skips
    // the remaining (long) dwell.
    let long = Plan {
        dwell: Duration::from_secs(60),
        start_step: 1,
        ..quick()
    };
    let started = Instant::now();
    let mut ask = Ask::new(Directive::Promote);
    let outcome = rollout(lb, &Scripted::new(true, 20.0, 0.0), &long, &mut ask)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Promoted { .. }), "{outcome:?}");
    assert_eq!(ask.seen, vec![25, 100]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(lb.weights().await.unwrap(), Weights::green(100).unwrap());

    // An operator's rollback puts everything back on blue at once.
    lb.set_weights(Weights::ALL_BLUE).await.unwrap();
    let long = Plan {
        dwell: Duration::from_secs(60),
        ..quick()
    };
    let mut ask = Ask::new(Directive::RollBack("asked".into()));
    let outcome = rollout(lb, &Scripted::new(true, 20.0, 0.0), &long, &mut ask)
        .await
        .unwrap();
    assert!(
        matches!(
            &outcome,
            Outcome::RolledBack { trigger: "manual", at_green: 5, detail, .. } if detail == "asked"
        ),
        "{outcome:?}"
    );
    assert_eq!(lb.weights().await.unwrap(), Weights::ALL_BLUE);
}

/// A supervisor that says `directive` at its third check.
struct Ask {
    directive: Directive,
    checks: usize,
    seen: Vec<u8>,
}

impl Ask {
    fn new(directive: Directive) -> Ask {
        Ask {
            directive,
            checks: 0,
            seen: Vec::new(),
        }
    }
}

impl Supervisor for &mut Ask {
    async fn event(&mut self, e: &deploy::Event) {
        if let deploy::Event::Weights(w) = e {
            self.seen.push(w.green);
        }
    }

    async fn check(&mut self) -> Directive {
        self.checks += 1;
        if self.checks >= 3 {
            self.directive.clone()
        } else {
            Directive::Continue
        }
    }
}

#[tokio::test]
async fn the_controller_suite_on_haproxy() {
    let (_proc, lb, _) = haproxy_for(free_port(), free_port()).await;
    controller_suite(&lb).await;
}

#[tokio::test]
async fn the_controller_suite_on_an_alb_listener_rule() {
    let (_moto, alb) = alb_on_moto(true).await;
    assert_eq!(alb.weights().await.unwrap(), Weights::ALL_BLUE);
    controller_suite(&alb).await;
}

#[tokio::test]
async fn the_controller_suite_on_an_alb_listener_default_action() {
    let (_moto, alb) = alb_on_moto(false).await;
    controller_suite(&alb).await;
}
