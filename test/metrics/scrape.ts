import { parseMetrics, type Sample } from '../../sample/01-scheduler/demo/prometheus-text.js';

export {
  metric,
  parseMetrics,
  type Sample,
} from '../../sample/01-scheduler/demo/prometheus-text.js';

/** GETs `url` and parses it as metrics; fails on a non-200 answer or a non-Prometheus body. */
export async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('text/plain')) throw new Error(`GET ${url}: content-type ${type}`);
  return parseMetrics(await res.text());
}
