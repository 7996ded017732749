//! Metric measurements aggregated into OTLP data points: counters into sums, gauges into their last value,
//! distributions into explicit-bucket histograms, one data point per metric and attribute set, with exemplars for
//! the measurements taken inside spans.
//!
//! With delta temporality (the default) each export covers the measurements of one container and nothing is kept
//! between exports. With cumulative temporality the running totals of each series are kept from its first
//! measurement, at most [`MAX_CUMULATIVE_SERIES`] of them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::diagnostics::sdk_debug;
use crate::protocol::Timestamp;
use crate::protocol::metric::{Metric, MetricType};
use crate::protocol::otlp::{
    Exemplar, Gauge, Histogram, HistogramDataPoint, KeyValue, MetricData, NumberDataPoint,
    OtlpMetric, Sum, unix_nanos,
};
use crate::sync::lock;

/// The bounds of a histogram's buckets unless the options say otherwise: OpenTelemetry's default for explicit
/// bucket histograms, which suits durations in milliseconds.
pub const DEFAULT_HISTOGRAM_BOUNDS: [f64; 15] = [
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// The bounds for durations in seconds (unit `second` or `s`) unless the options set others: OpenTelemetry's
/// recommendation for `http.server.request.duration`.
pub const SECONDS_HISTOGRAM_BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The most series whose running totals cumulative temporality keeps; a measurement of a new series past it is
/// not exported (a debug line says so).
pub const MAX_CUMULATIVE_SERIES: usize = 2000;

/// How sums and histograms report: each export's own measurements, or the totals since the series began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Temporality {
    /// Each export covers its own measurements (OTLP `AGGREGATION_TEMPORALITY_DELTA`).
    #[default]
    Delta,
    /// Each export reports the totals since the series' first measurement (`AGGREGATION_TEMPORALITY_CUMULATIVE`),
    /// as Prometheus expects.
    Cumulative,
}

impl Temporality {
    fn code(self) -> u8 {
        match self {
            Temporality::Delta => 1,
            Temporality::Cumulative => 2,
        }
    }
}

/// A series: a metric's name, type and unit, and one attribute set.
type SeriesKey = (String, MetricType, String, Vec<(String, String)>);

/// What a series adds up to.
#[derive(Clone, Debug)]
struct Totals {
    start: Timestamp,
    end: Timestamp,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// Per bucket (histograms), or the last value (gauges).
    buckets: Vec<u64>,
    last: f64,
    exemplars: Vec<Exemplar>,
}

/// Turns containers of measurements into OTLP metrics.
#[derive(Debug)]
pub(super) struct MetricsAggregator {
    temporality: Temporality,
    bounds: Vec<f64>,
    /// Whether `bounds` are the defaults, which give way to [`SECONDS_HISTOGRAM_BOUNDS`] for durations in seconds.
    default_bounds: bool,
    /// The running totals, with cumulative temporality, as of the last export the collector accepted.
    cumulative: Mutex<HashMap<SeriesKey, Totals>>,
}

/// What an export adds to the running totals once the collector accepted it (cumulative temporality): the
/// export's own totals per series.
#[derive(Debug, Default)]
pub(super) struct Pending(Vec<(SeriesKey, Totals)>);

/// The most exemplars a data point carries.
const MAX_EXEMPLARS: usize = 4;

impl MetricsAggregator {
    pub(super) fn new(temporality: Temporality, bounds: Vec<f64>) -> Self {
        let mut bounds: Vec<f64> = bounds.into_iter().filter(|b| b.is_finite()).collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        MetricsAggregator {
            temporality,
            default_bounds: bounds == DEFAULT_HISTOGRAM_BOUNDS,
            bounds,
            cumulative: Mutex::new(HashMap::new()),
        }
    }

    /// The bucket bounds for a histogram of `unit`.
    fn bounds(&self, unit: &str) -> &[f64] {
        if self.default_bounds && matches!(unit, "second" | "seconds" | "s") {
            &SECONDS_HISTOGRAM_BOUNDS
        } else {
            &self.bounds
        }
    }

    /// Adds an accepted export's totals to the running ones (cumulative temporality; nothing with delta). A
    /// retried export is built again from the same running totals, so it is never counted twice.
    pub(super) fn commit(&self, pending: Pending) {
        if pending.0.is_empty() {
            return;
        }
        let mut running = lock(&self.cumulative);
        for (key, totals) in pending.0 {
            if let Some(kept) = running.get_mut(&key) {
                merge(kept, &totals);
            } else if running.len() < MAX_CUMULATIVE_SERIES {
                running.insert(key, totals);
            }
        }
    }

    /// The metrics of `measurements`: one per name, type and unit, with a data point per attribute set.
    pub(super) fn metrics(&self, measurements: &[Metric]) -> (Vec<OtlpMetric>, Pending) {
        let mut series: BTreeMap<SeriesKey, (Vec<KeyValue>, Totals)> = BTreeMap::new();
        for metric in measurements {
            let attributes = data_point_attributes(metric);
            let key: SeriesKey = (
                metric.name.clone(),
                metric.ty,
                metric.unit.clone().unwrap_or_default(),
                attributes
                    .iter()
                    .map(|kv| (kv.key.clone(), format!("{:?}", kv.value)))
                    .collect(),
            );
            let unit = key.2.clone();
            let entry = series
                .entry(key)
                .or_insert_with(|| (attributes, self.empty(metric.timestamp, &unit)));
            self.add(&mut entry.1, metric, &unit);
        }
        let mut pending = Pending::default();
        if self.temporality == Temporality::Cumulative {
            let running = lock(&self.cumulative);
            series.retain(|key, (_, totals)| {
                if key.1 == MetricType::Gauge {
                    return true;
                }
                pending.0.push((key.clone(), totals.clone()));
                match running.get(key) {
                    Some(kept) => {
                        let mut sum = kept.clone();
                        merge(&mut sum, totals);
                        *totals = sum;
                        true
                    }
                    None if running.len() < MAX_CUMULATIVE_SERIES => true,
                    None => {
                        sdk_debug!(
                            "more than {MAX_CUMULATIVE_SERIES} metric series: {} is not exported",
                            key.0
                        );
                        false
                    }
                }
            });
        }
        let mut metrics: Vec<OtlpMetric> = Vec::new();
        for ((name, ty, unit, _), (attributes, totals)) in series {
            let data = self.data_point(ty, &unit, attributes, &totals);
            let unit = ucum(&unit).to_owned();
            match metrics
                .last_mut()
                .filter(|m| m.name == name && m.unit == unit && same_kind(&m.data, &data))
            {
                Some(metric) => push(&mut metric.data, data),
                None => metrics.push(OtlpMetric { name, unit, data }),
            }
        }
        (metrics, pending)
    }

    fn empty(&self, at: Timestamp, unit: &str) -> Totals {
        Totals {
            start: at,
            end: at,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            buckets: vec![0; self.bounds(unit).len() + 1],
            last: 0.0,
            exemplars: Vec::new(),
        }
    }

    fn add(&self, totals: &mut Totals, metric: &Metric, unit: &str) {
        let value = metric.value;
        totals.start = totals.start.min(metric.timestamp);
        if metric.timestamp >= totals.end {
            totals.end = metric.timestamp;
            totals.last = value;
        }
        totals.count += 1;
        totals.sum += value;
        totals.min = totals.min.min(value);
        totals.max = totals.max.max(value);
        // The first bucket whose upper bound the value does not exceed; the last takes the rest.
        let bucket = self.bounds(unit).partition_point(|bound| *bound < value);
        totals.buckets[bucket] += 1;
        if let Some(span_id) = metric.span_id {
            if totals.exemplars.len() == MAX_EXEMPLARS {
                totals.exemplars.remove(0);
            }
            totals.exemplars.push(Exemplar {
                time_unix_nano: unix_nanos(metric.timestamp),
                as_double: value,
                span_id: span_id.to_string(),
                trace_id: metric.trace_id.to_string(),
            });
        }
    }

    /// One metric's data (with its single data point) for a series.
    fn data_point(
        &self,
        ty: MetricType,
        unit: &str,
        attributes: Vec<KeyValue>,
        totals: &Totals,
    ) -> MetricData {
        let temporality = self.temporality.code();
        match ty {
            MetricType::Counter => MetricData::Sum(Sum {
                data_points: vec![NumberDataPoint {
                    attributes,
                    start_time_unix_nano: Some(unix_nanos(totals.start)),
                    time_unix_nano: unix_nanos(totals.end),
                    as_double: totals.sum,
                    exemplars: totals.exemplars.clone(),
                }],
                aggregation_temporality: temporality,
                is_monotonic: true,
            }),
            MetricType::Gauge => MetricData::Gauge(Gauge {
                data_points: vec![NumberDataPoint {
                    attributes,
                    start_time_unix_nano: None,
                    time_unix_nano: unix_nanos(totals.end),
                    as_double: totals.last,
                    exemplars: totals.exemplars.clone(),
                }],
            }),
            MetricType::Distribution => MetricData::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes,
                    start_time_unix_nano: unix_nanos(totals.start),
                    time_unix_nano: unix_nanos(totals.end),
                    count: totals.count.to_string(),
                    sum: totals.sum,
                    bucket_counts: totals.buckets.iter().map(u64::to_string).collect(),
                    explicit_bounds: self.bounds(unit).to_vec(),
                    min: totals.min,
                    max: totals.max,
                    exemplars: totals.exemplars.clone(),
                }],
                aggregation_temporality: temporality,
            }),
        }
    }
}

/// A Sentry unit name as OpenTelemetry writes it (UCUM): `second` is `s`, `millisecond` `ms`, `byte` `By`; others
/// as they are.
fn ucum(unit: &str) -> &str {
    match unit {
        "nanosecond" => "ns",
        "microsecond" => "us",
        "millisecond" => "ms",
        "second" => "s",
        "minute" => "min",
        "hour" => "h",
        "day" => "d",
        "byte" => "By",
        "kilobyte" => "kBy",
        "megabyte" => "MBy",
        "gigabyte" => "GBy",
        "percent" => "%",
        other => other,
    }
}

/// Adds the totals of `more` (later measurements) to `kept`.
fn merge(kept: &mut Totals, more: &Totals) {
    kept.end = kept.end.max(more.end);
    kept.count += more.count;
    kept.sum += more.sum;
    kept.min = kept.min.min(more.min);
    kept.max = kept.max.max(more.max);
    for (k, m) in kept.buckets.iter_mut().zip(&more.buckets) {
        *k += m;
    }
    kept.last = more.last;
    kept.exemplars = more.exemplars.clone();
}

fn same_kind(a: &MetricData, b: &MetricData) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Moves the data point of `from` into `into` (both of the same kind).
fn push(into: &mut MetricData, from: MetricData) {
    match (into, from) {
        (MetricData::Sum(a), MetricData::Sum(b)) => a.data_points.extend(b.data_points),
        (MetricData::Gauge(a), MetricData::Gauge(b)) => a.data_points.extend(b.data_points),
        (MetricData::Histogram(a), MetricData::Histogram(b)) => a.data_points.extend(b.data_points),
        _ => {}
    }
}

/// A measurement's own attributes, as a data point's: the SDK's (`sentry.*`, `server.address`, `user.*`) stay out,
/// since the resource names the service and every other value would split a series.
fn data_point_attributes(metric: &Metric) -> Vec<KeyValue> {
    metric
        .attributes
        .iter()
        .filter(|(key, _)| {
            !key.starts_with("sentry.")
                && !key.starts_with("user.")
                && key.as_str() != "server.address"
        })
        .map(|(key, value)| KeyValue::new(key.clone(), value.clone().into()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::LogValue;

    fn measurement(ty: MetricType, value: f64, secs: f64, region: &str) -> Metric {
        let mut attributes = BTreeMap::new();
        attributes.insert("region".to_owned(), LogValue::from(region));
        attributes.insert("sentry.release".to_owned(), LogValue::from("a@1"));
        Metric {
            timestamp: Timestamp::from_secs_f64(secs).unwrap(),
            trace_id: "0af7651916cd43dd8448eb211c80319c".parse().unwrap(),
            span_id: None,
            name: "m".into(),
            ty,
            value,
            unit: None,
            attributes,
        }
    }

    #[test]
    fn sums_histograms_and_gauges_per_attribute_set() {
        let aggregator = MetricsAggregator::new(Temporality::Delta, vec![10.0, 1.0, 100.0, 10.0]);
        let measurements = [
            measurement(MetricType::Distribution, 0.5, 1.0, "eu"),
            measurement(MetricType::Distribution, 10.0, 2.0, "eu"),
            measurement(MetricType::Distribution, 11.0, 3.0, "eu"),
            measurement(MetricType::Distribution, 1000.0, 4.0, "eu"),
            measurement(MetricType::Distribution, 5.0, 5.0, "us"),
        ];
        let (metrics, _) = aggregator.metrics(&measurements);
        assert_eq!(metrics.len(), 1);
        let MetricData::Histogram(histogram) = &metrics[0].data else {
            panic!("{metrics:?}")
        };
        assert_eq!(histogram.data_points.len(), 2, "eu and us");
        let eu = &histogram.data_points[0];
        assert_eq!(
            eu.explicit_bounds,
            [1.0, 10.0, 100.0],
            "sorted, deduplicated"
        );
        assert_eq!(
            eu.bucket_counts,
            ["1", "1", "1", "1"],
            "a value on a bound falls below it"
        );
        assert_eq!(
            (eu.count.as_str(), eu.sum, eu.min, eu.max),
            ("4", 1021.5, 0.5, 1000.0)
        );
        assert_eq!(eu.attributes.len(), 1, "the SDK's attributes stay out");

        let aggregator =
            MetricsAggregator::new(Temporality::Cumulative, DEFAULT_HISTOGRAM_BOUNDS.to_vec());
        let (first, pending) =
            aggregator.metrics(&[measurement(MetricType::Counter, 2.0, 1.0, "eu")]);
        let (retried, _) = aggregator.metrics(&[measurement(MetricType::Counter, 2.0, 1.0, "eu")]);
        aggregator.commit(pending);
        let second_batch = [
            measurement(MetricType::Counter, 3.0, 2.0, "eu"),
            measurement(MetricType::Gauge, 7.0, 2.0, "eu"),
            measurement(MetricType::Gauge, 4.0, 3.0, "eu"),
        ];
        let (second, pending) = aggregator.metrics(&second_batch);
        aggregator.commit(pending);
        let sum = |metrics: &[OtlpMetric]| match &metrics[0].data {
            MetricData::Sum(sum) => (sum.data_points[0].as_double, sum.aggregation_temporality),
            other => panic!("{other:?}"),
        };
        assert_eq!(sum(&first), (2.0, 2));
        assert_eq!(
            sum(&retried),
            (2.0, 2),
            "a retry before the commit counts once"
        );
        assert_eq!(sum(&second), (5.0, 2), "running total");
        let MetricData::Gauge(gauge) = &second[1].data else {
            panic!("{second:?}")
        };
        assert_eq!(gauge.data_points[0].as_double, 4.0, "the last value");
    }

    #[test]
    fn durations_in_seconds_get_bounds_in_seconds_and_units_are_ucum() {
        let aggregator =
            MetricsAggregator::new(Temporality::Delta, DEFAULT_HISTOGRAM_BOUNDS.to_vec());
        let mut request = measurement(MetricType::Distribution, 0.12, 1.0, "eu");
        request.unit = Some("second".into());
        let (metrics, _) = aggregator.metrics(&[request]);
        assert_eq!(metrics[0].unit, "s");
        let MetricData::Histogram(histogram) = &metrics[0].data else {
            panic!("{metrics:?}")
        };
        let point = &histogram.data_points[0];
        assert_eq!(point.explicit_bounds, SECONDS_HISTOGRAM_BOUNDS);
        assert_eq!(
            point.bucket_counts.len(),
            SECONDS_HISTOGRAM_BOUNDS.len() + 1
        );
        assert_eq!(point.bucket_counts[6], "1", "0.1 < 0.12 <= 0.25");

        let custom = MetricsAggregator::new(Temporality::Delta, vec![1.0, 2.0]);
        let mut request = measurement(MetricType::Distribution, 0.12, 1.0, "eu");
        request.unit = Some("second".into());
        let (metrics, _) = custom.metrics(&[request]);
        let MetricData::Histogram(histogram) = &metrics[0].data else {
            panic!("{metrics:?}")
        };
        assert_eq!(
            histogram.data_points[0].explicit_bounds,
            [1.0, 2.0],
            "bounds set by hand win"
        );
    }
}
