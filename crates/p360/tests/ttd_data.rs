//! The TTD sandbox's first-party IP data, as TTD's Data API takes it:
//! segments filled and emptied by `POST /data/firstpartyipaddress`, bad
//! addresses reported line by line, segments listed per advertiser.

use serde_json::{Value, json};

async fn sandbox() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = activation::ttd::sandbox::router(Default::default());
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A sandbox, a client and a TTD-Auth token for it.
async fn session() -> (String, reqwest::Client, String) {
    let base = sandbox().await;
    let http = reqwest::Client::new();
    let (_, token) = post(
        &http,
        format!("{base}/v3/authentication"),
        "",
        json!({"Login": "p360", "Password": "x"}),
    )
    .await;
    let token = token["Token"].as_str().unwrap().to_string();
    (base, http, token)
}

async fn post(http: &reqwest::Client, url: String, token: &str, body: Value) -> (u16, Value) {
    let res = http
        .post(url)
        .header("TTD-Auth", token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or_default())
}

#[tokio::test]
async fn first_party_ip_segments_are_filled_emptied_and_listed() {
    let (base, http, token) = session().await;
    let token = token.as_str();
    let (s, _) = post(
        &http,
        format!("{base}/data/firstpartyipaddress"),
        "nope",
        json!({}),
    )
    .await;
    assert_eq!(s, 403, "the Data API wants a token too");

    let segment = |ips: Value, ranges: Value, ttl: u64| {
        json!({"DataOwnerId": "adv1", "Items": [{"Data": [
            {"Name": "p360-audience-1", "TtlInMinutes": ttl, "IPAddresses": ips,
             "IPAddressRanges": ranges}]}]})
    };
    let (s, r) = post(
        &http,
        format!("{base}/data/firstpartyipaddress"),
        token,
        segment(
            json!(["192.0.2.7", "not-an-ip"]),
            json!([
                "198.51.100.0/27",
                "198.51.100.40-198.51.100.50",
                "2001:db8::/48",
                "10.0.0.9-10.0.0.1"
            ]),
            1440,
        ),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let failed: Vec<(&str, &str)> = r["FailedLines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["ErrorCode"].as_str().unwrap(),
                l["IPAddress"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            ("InvalidIPAddress", "not-an-ip"),
            ("InvalidIPAddressRange", "10.0.0.9-10.0.0.1")
        ]
    );
    let contents = |http: reqwest::Client, base: String| async move {
        http.get(format!(
            "{base}/_sandbox/data/firstparty/adv1/p360-audience-1"
        ))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
    };
    let now = contents(http.clone(), base.clone()).await;
    assert_eq!(
        now["Entries"],
        json!([
            "192.0.2.7",
            "198.51.100.0/27",
            "198.51.100.40-198.51.100.50",
            "2001:db8::/48"
        ])
    );
    // A TTL of 0 takes addresses out; sending the same again changes nothing.
    let (s, _) = post(
        &http,
        format!("{base}/data/firstpartyipaddress"),
        token,
        segment(json!(["192.0.2.7"]), json!(["2001:db8::/48"]), 0),
    )
    .await;
    assert_eq!(s, 200);
    for _ in 0..2 {
        let (s, _) = post(
            &http,
            format!("{base}/data/firstpartyipaddress"),
            token,
            segment(json!([]), json!(["198.51.100.0/27"]), 1440),
        )
        .await;
        assert_eq!(s, 200);
    }
    let after = contents(http.clone(), base.clone()).await;
    assert_eq!(
        after["Entries"],
        json!(["198.51.100.0/27", "198.51.100.40-198.51.100.50"])
    );
    let (s, listed) = post(
        &http,
        format!("{base}/v3/dmp/firstparty/advertiser"),
        token,
        json!({"AdvertiserId": "adv1", "PageStartIndex": 0, "PageSize": 10}),
    )
    .await;
    assert_eq!(s, 200, "{listed}");
    assert_eq!(listed["Result"][0]["Name"], "p360-audience-1");
    assert_eq!(
        listed["Result"][0]["FirstPartyDataId"],
        after["FirstPartyDataId"]
    );
    assert_eq!(listed["Result"][0]["ActiveIpCount"], 2);
    let (s, missing) = post(
        &http,
        format!("{base}/data/firstpartyipaddress"),
        token,
        json!({"Items": []}),
    )
    .await;
    assert_eq!(
        (s, &missing["FailedLines"][0]["ErrorCode"]),
        (400, &json!("MissingDataOwnerId"))
    );
}

#[tokio::test]
async fn an_audience_groups_first_party_segments_through_a_data_group() {
    let (base, http, token) = session().await;
    let token = token.as_str();
    let (s, adv) = post(
        &http,
        format!("{base}/v3/advertiser"),
        token,
        json!({"PartnerId": "p1", "AdvertiserName": "Acme", "CurrencyCode": "USD",
               "DomainAddress": "https://acme.example",
               "AttributionClickLookbackWindowInSeconds": 2592000,
               "AttributionImpressionLookbackWindowInSeconds": 2592000,
               "ClickDedupWindowInSeconds": 7, "ConversionDedupWindowInSeconds": 60}),
    )
    .await;
    assert_eq!(s, 200, "{adv}");
    let adv = adv["AdvertiserId"].as_str().unwrap().to_string();
    let (s, _) = post(
        &http,
        format!("{base}/data/firstpartyipaddress"),
        token,
        json!({"DataOwnerId": adv, "Items": [{"Data": [{"Name": "p360-audience-1",
            "TtlInMinutes": 1440, "IPAddressRanges": ["192.0.2.0/24"]}]}]}),
    )
    .await;
    assert_eq!(s, 200);
    let (_, listed) = post(
        &http,
        format!("{base}/v3/dmp/firstparty/advertiser"),
        token,
        json!({"AdvertiserId": adv}),
    )
    .await;
    let segment = listed["Result"][0]["FirstPartyDataId"].clone();
    // A data group naming a segment the advertiser does not have is refused.
    let (s, bad) = post(
        &http,
        format!("{base}/v3/datagroup"),
        token,
        json!({"AdvertiserId": adv, "DataGroupName": "g", "FirstPartyDataIds": [1]}),
    )
    .await;
    assert_eq!(s, 400, "{bad}");
    assert_eq!(bad["ErrorDetails"][0]["Property"], "FirstPartyDataIds");
    let (s, group) = post(
        &http,
        format!("{base}/v3/datagroup"),
        token,
        json!({"AdvertiserId": adv, "DataGroupName": "p360 audience 1",
               "FirstPartyDataIds": [segment]}),
    )
    .await;
    assert_eq!(s, 200, "{group}");
    let (s, audience) = post(
        &http,
        format!("{base}/v3/audience"),
        token,
        json!({"AdvertiserId": adv, "AudienceName": "p360 audience 1",
               "IncludedDataGroupIds": [group["DataGroupId"]]}),
    )
    .await;
    assert_eq!(s, 200, "{audience}");
    let (s, page) = post(
        &http,
        format!("{base}/v3/audience/query/advertiser"),
        token,
        json!({"AdvertiserId": adv, "PageStartIndex": 0, "PageSize": 10}),
    )
    .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["Result"][0]["AudienceId"], audience["AudienceId"]);
    assert_eq!(
        page["Result"][0]["IncludedDataGroupIds"],
        json!([group["DataGroupId"]])
    );
}
