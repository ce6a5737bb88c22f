/** The options of the metrics module. */
import type { Registry } from 'prom-client';

/** Settings of {@link ElectionMetrics} and `ElectionMetricsModule`. */
export interface ElectionMetricsOptions {
  /**
   * The prom-client registry to register into. The default one is what
   * `@willsoto/nestjs-prometheus` serves on `/metrics`.
   * @default prom-client's default `register`
   */
  registry?: Registry;
}
