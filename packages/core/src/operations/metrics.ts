/**
 * Prometheus metrics from the server's hooks, without a metrics library: counters and a latency
 * histogram kept in plain arrays, rendered in the text exposition format on demand.
 *
 * @module
 */
import type { KeywardEvent, ResponseInfo } from './events.js';

/** Upper bounds of the latency histogram, in seconds: sub-millisecond hits to a slow store's seconds. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

interface EndpointSeries {
  statusCounts: number[];
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * What {@link createMetrics} returns: hooks to pass to the server and guards, and the exposition.
 *
 * @example
 * ```ts
 * const metrics: KeywardMetrics = createMetrics();
 * return new Response(metrics.render(), { headers: { 'content-type': metrics.contentType } });
 * ```
 * @see [Prometheus text exposition format](https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format)
 */
export interface KeywardMetrics {
  /** Pass as `onEvent` (or call from yours): counts security events by type. */
  onEvent(event: KeywardEvent): void;
  /** Pass as `onResponse` of the server and of each guard: counts requests and observes latency. */
  onResponse(info: ResponseInfo): void;
  /** Counts a store failure seen outside the server (a store call of your own). */
  onStoreError(): void;
  /** The current values in the Prometheus text exposition format 0.0.4. */
  render(): string;
  /** The media type of {@link render}'s output, for the `Content-Type` of a `/metrics` response. */
  readonly contentType: string;
}

// Prometheus label values escape backslash, double quote and newline.
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function number(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(9).replace(/\.?0+$/, '');
}

/**
 * Metrics for a Keyward deployment: `keyward_requests_total{endpoint,status_class}`,
 * `keyward_request_duration_seconds{endpoint}` (histogram), `keyward_security_events_total{type}` and
 * `keyward_store_errors_total`. Labels are the stable endpoint names and event types, so the series stay
 * few whatever the traffic. One instance per process; serve {@link KeywardMetrics.render} at `/metrics`.
 *
 * @example
 * ```ts
 * const metrics = createMetrics();
 * const server = new AuthorizationServer({ issuer, store, onEvent: metrics.onEvent, onResponse: metrics.onResponse });
 * app.get('/metrics', (req, res) => res.type(metrics.contentType).send(metrics.render()));
 * ```
 * @see [Prometheus text exposition format](https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format)
 */
export function createMetrics(): KeywardMetrics {
  const endpoints = new Map<string, EndpointSeries>();
  const events = new Map<string, number>();
  let storeErrors = 0;

  const onResponse = (info: ResponseInfo): void => {
    let series = endpoints.get(info.endpoint);
    if (!series) {
      series = { statusCounts: [0, 0, 0, 0, 0], buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
      endpoints.set(info.endpoint, series);
    }
    const statusClass = Math.floor(info.status / 100) - 1;
    if (statusClass >= 0 && statusClass < 5) series.statusCounts[statusClass]!++;
    const seconds = info.durationMs / 1000;
    series.sum += seconds;
    series.count++;
    // Cumulative buckets are summed at render time; here only the first bucket that fits is counted.
    const index = BUCKETS.findIndex((bound) => seconds <= bound);
    if (index >= 0) series.buckets[index]!++;
  };

  const onEvent = (event: KeywardEvent): void => {
    events.set(event.type, (events.get(event.type) ?? 0) + 1);
    if (event.type === 'store.unavailable') storeErrors++;
  };

  const render = (): string => {
    const lines: string[] = [];
    lines.push('# HELP keyward_requests_total Requests answered, by endpoint and HTTP status class.', '# TYPE keyward_requests_total counter');
    for (const [endpoint, series] of endpoints) {
      series.statusCounts.forEach((count, index) => {
        if (count) lines.push(`keyward_requests_total{endpoint="${label(endpoint)}",status_class="${STATUS_CLASSES[index]}"} ${count}`);
      });
    }
    lines.push('# HELP keyward_request_duration_seconds Time to answer a request, by endpoint.', '# TYPE keyward_request_duration_seconds histogram');
    for (const [endpoint, series] of endpoints) {
      const name = label(endpoint);
      let cumulative = 0;
      BUCKETS.forEach((bound, index) => {
        cumulative += series.buckets[index]!;
        lines.push(`keyward_request_duration_seconds_bucket{endpoint="${name}",le="${bound}"} ${cumulative}`);
      });
      lines.push(`keyward_request_duration_seconds_bucket{endpoint="${name}",le="+Inf"} ${series.count}`);
      lines.push(`keyward_request_duration_seconds_sum{endpoint="${name}"} ${number(series.sum)}`);
      lines.push(`keyward_request_duration_seconds_count{endpoint="${name}"} ${series.count}`);
    }
    lines.push('# HELP keyward_security_events_total Security events, by type.', '# TYPE keyward_security_events_total counter');
    for (const [type, count] of events) lines.push(`keyward_security_events_total{type="${label(type)}"} ${count}`);
    lines.push('# HELP keyward_store_errors_total Store calls that failed.', '# TYPE keyward_store_errors_total counter');
    lines.push(`keyward_store_errors_total ${storeErrors}`);
    return `${lines.join('\n')}\n`;
  };

  return {
    onEvent,
    onResponse,
    onStoreError: () => void storeErrors++,
    render,
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
  };
}
