//! CPU and memory of Kapture's pods as the metrics API (metrics.k8s.io) reports them, and the
//! Kubernetes quantities they are written in. Pure.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Usage;

/// One pod's usage at one reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodUsage {
    pub pod: String,
    /// The pod's `app.kubernetes.io/component`.
    pub component: Option<String>,
    /// Summed over its containers; `None` when a quantity did not parse.
    pub cpu_cores: Option<f64>,
    pub memory_bytes: Option<f64>,
}

impl PodUsage {
    /// A pod's usage from its containers' quantities (`250m`, `12345678n`; `64Mi`, `123456Ki`).
    pub fn new(pod: String, component: Option<String>, cpu: &[String], memory: &[String]) -> Self {
        let sum = |quantities: &[String]| quantities.iter().map(|q| quantity(q)).sum();
        PodUsage {
            pod,
            component,
            cpu_cores: sum(cpu),
            memory_bytes: sum(memory),
        }
    }
}

/// One reading of the metrics API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageSample {
    /// Seconds since the bench started.
    pub at: f64,
    pub pods: Vec<PodUsage>,
    /// The API server's answer when the reading failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A Kubernetes quantity as a plain number: `1.5`, `250m`, `12345678n`, `64Mi`, `1G`, `1e3`.
pub fn quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    const SUFFIXES: [(&str, f64); 15] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, factor) = SUFFIXES
        .iter()
        .find_map(|(suffix, factor)| Some((text.strip_suffix(suffix)?, *factor)))
        .unwrap_or((text, 1.0));
    let value: f64 = number.parse().ok()?;
    Some(value * factor).filter(|v| v.is_finite() && *v >= 0.0)
}

/// Per component: the mean of its pods' summed CPU over the readings, and the highest summed
/// memory. Readings that failed, and pods without a component, are left out.
pub fn summarize(readings: &[UsageSample]) -> Vec<Usage> {
    let mut per_component: BTreeMap<&str, (Vec<f64>, f64)> = BTreeMap::new();
    for reading in readings.iter().filter(|r| r.error.is_none()) {
        let mut sums: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
        for pod in &reading.pods {
            let Some(component) = pod.component.as_deref() else {
                continue;
            };
            let sum = sums.entry(component).or_default();
            sum.0 += pod.cpu_cores.unwrap_or(0.0);
            sum.1 += pod.memory_bytes.unwrap_or(0.0);
        }
        for (component, (cpu, memory)) in sums {
            let entry = per_component.entry(component).or_default();
            entry.0.push(cpu);
            entry.1 = entry.1.max(memory);
        }
    }
    per_component
        .into_iter()
        .map(|(component, (cpu, memory))| Usage {
            component: component.to_string(),
            cpu_cores: cpu.iter().sum::<f64>() / cpu.len() as f64,
            memory_bytes: memory,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_kubernetes_writes_them() {
        assert_eq!(quantity("2"), Some(2.0));
        assert_eq!(quantity("250m"), Some(0.25));
        assert!((quantity("12345678n").unwrap() - 0.012345678).abs() < 1e-12);
        assert_eq!(quantity("64Mi"), Some(64.0 * 1024.0 * 1024.0));
        assert_eq!(quantity("8029404Ki"), Some(8029404.0 * 1024.0));
        assert_eq!(quantity("1G"), Some(1e9));
        assert_eq!(quantity("1e3"), Some(1000.0));
        assert_eq!(quantity("1.5"), Some(1.5));
        assert_eq!(quantity("lots"), None);
        assert_eq!(quantity("-1"), None);
    }

    #[test]
    fn usage_is_the_mean_cpu_and_peak_memory_per_component() {
        let pod = |name: &str, component: &str, cpu: &str, memory: &str| {
            PodUsage::new(
                name.into(),
                Some(component.into()),
                &[cpu.to_string()],
                &[memory.to_string()],
            )
        };
        let readings = vec![
            UsageSample {
                at: 0.0,
                pods: vec![
                    pod("o-1", "order-service", "100m", "10Mi"),
                    pod("o-2", "order-service", "300m", "20Mi"),
                    pod("l-1", "loadgen", "50m", "5Mi"),
                ],
                error: None,
            },
            UsageSample {
                at: 2.0,
                pods: vec![],
                error: Some("503 service unavailable".into()),
            },
            UsageSample {
                at: 4.0,
                pods: vec![pod("o-1", "order-service", "200m", "40Mi")],
                error: None,
            },
        ];
        let usage = summarize(&readings);
        let order = usage
            .iter()
            .find(|u| u.component == "order-service")
            .unwrap();
        assert!((order.cpu_cores - 0.3).abs() < 1e-9, "{order:?}");
        assert_eq!(order.memory_bytes, 40.0 * 1024.0 * 1024.0);
        assert_eq!(usage.len(), 2);
        assert!(summarize(&[]).is_empty());
    }
}
