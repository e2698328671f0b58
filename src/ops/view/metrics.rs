//! What `temps serve` says to Prometheus (`/metrics`, `--metrics`): the operations the
//! history holds, from every entry point (the command line's included), its automatic
//! rollbacks by signal, and what serves each environment. Read from the history at
//! each scrape, so the counts are the same whichever process asks; the label sets are
//! bounded by the projects and environments (and one deployment per environment).

use anyhow::Result;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::ops::watch::signal_kind_of_reason;
use crate::store::Store;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    kind: String,
    project: String,
    environment: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RollbackLabels {
    project: String,
    environment: String,
    signal: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeploymentLabels {
    project: String,
    environment: String,
    deployment: String,
    image: String,
}

/// The operation duration histogram's upper bounds, in seconds.
const BUCKETS: [f64; 10] = [0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0];

/// How an operation ended, as the `outcome` label says it; `None` while it runs.
fn outcome(status: &str) -> Option<&'static str> {
    match status {
        "deployed" | "completed" | "ready" => Some("succeeded"),
        "failed" => Some("failed"),
        "cancelled" => Some("cancelled"),
        _ => None,
    }
}

/// The metrics in the Prometheus text format.
pub fn render(store: &Store) -> Result<String> {
    let operations = Family::<OperationLabels, Counter>::default();
    let durations = Family::<KindLabel, Histogram>::new_with_constructor(|| {
        Histogram::new(BUCKETS.iter().copied())
    });
    let automatic = Family::<RollbackLabels, Counter>::default();
    let info = Family::<DeploymentLabels, Gauge>::default();
    for fact in store.operation_facts()? {
        let Some(outcome) = outcome(&fact.status) else {
            continue;
        };
        operations
            .get_or_create(&OperationLabels {
                kind: fact.kind.into(),
                project: fact.project.clone(),
                environment: fact.environment.clone(),
                outcome: outcome.into(),
            })
            .inc();
        if let Some(ms) = fact.took_ms {
            durations
                .get_or_create(&KindLabel {
                    kind: fact.kind.into(),
                })
                .observe(ms.max(0) as f64 / 1000.0);
        }
        if let Some(signal) = fact.reason.as_deref().and_then(signal_kind_of_reason) {
            automatic
                .get_or_create(&RollbackLabels {
                    project: fact.project,
                    environment: fact.environment,
                    signal: signal.into(),
                })
                .inc();
        }
    }
    for serving in store.serving()? {
        info.get_or_create(&DeploymentLabels {
            project: serving.project,
            environment: serving.environment,
            deployment: serving.deployment.to_string(),
            image: serving.image,
        })
        .set(1);
    }
    let mut registry = Registry::default();
    registry.register(
        "temps_operations",
        "Operations the history holds, by kind and how they ended",
        operations,
    );
    registry.register(
        "temps_operation_duration_seconds",
        "How long operations took, from their record to their end",
        durations,
    );
    registry.register(
        "temps_automatic_rollbacks",
        "Automatic rollbacks of the watch window, by the signal that fired them",
        automatic,
    );
    registry.register(
        "temps_deployment_info",
        "1 for the deployment that serves each environment",
        info,
    );
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    Ok(text)
}
