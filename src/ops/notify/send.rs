//! One POST of a delivery to its webhook: the headers of the spec, the body signed with
//! HMAC-SHA256 when the target has a secret, and an answer within a time limit.

use std::time::Duration;

use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;

use crate::store::Delivery;

/// `sha256=HEX`: the HMAC-SHA256 of `body` under `secret`, as `X-Temps-Signature` carries
/// it (GitHub signs its webhooks the same way).
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// POST `delivery` and wait at most `limit` for the answer's status: `Ok(status)` when
/// the receiver answered (2xx or not), `Err(why)` when it did not.
pub async fn post(delivery: &Delivery, limit: Duration) -> Result<u16, String> {
    match tokio::time::timeout(limit, exchange(delivery)).await {
        Ok(answer) => answer,
        Err(_) => Err(format!(
            "no answer within {}",
            crate::clock::format_duration(limit)
        )),
    }
}

async fn exchange(delivery: &Delivery) -> Result<u16, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .or_else(|_| {
            // No system roots: plain HTTP still works, HTTPS fails at its handshake.
            let roots = rustls::RootCertStore::empty();
            Ok::<_, String>(
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
                    rustls::ClientConfig::builder()
                        .with_root_certificates(roots)
                        .with_no_client_auth(),
                ),
            )
        })?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let body = delivery.body.clone();
    let mut request = hyper::Request::post(delivery.target.url.as_str())
        .header("content-type", "application/json")
        .header("user-agent", concat!("temps/", env!("CARGO_PKG_VERSION")))
        .header("x-temps-event", delivery.event.as_str())
        .header("x-temps-delivery", delivery.delivery.as_str());
    if let Some(secret) = &delivery.target.secret {
        request = request.header("x-temps-signature", signature(secret, body.as_bytes()));
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("the request could not be made: {e}"))?;
    let answer = client.request(request).await.map_err(|e| error_chain(&e))?;
    let status = answer.status().as_u16();
    // Read what the receiver says, so the connection ends cleanly; its words are not kept.
    let _ = answer.into_body().collect().await;
    Ok(status)
}

/// An error and its causes on one line (a client error alone says little).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
