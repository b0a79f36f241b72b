import type { RouteName } from './faults.js';

/** The fake App Service's front ends: ARM, each site's Kudu (SCM) origin, each site's Functions host. */
export const APP_SERVICE_FRONTS = ['arm', 'kudu', 'host'] as const;
export type AppServiceFront = (typeof APP_SERVICE_FRONTS)[number];

/** A route name, or `{front}.other` for a request that matched no route (a 404, or refused before routing). */
export type CountedRoute = RouteName | `${AppServiceFront}.other`;

/**
 * GET /_sandbox/requests. Requests to ARM, Kudu and the hosts all come from clients (the action, a test): the fake
 * platform never calls its own front ends. What the platform does on its own is fetch packages from blob storage;
 * those are counted under `platform` (the storage front door counts the same requests as client `platform`).
 */
export interface AppServiceRequestCounters {
  total: number;
  byFront: Record<AppServiceFront, number>;
  /** Only routes seen so far appear. */
  byRoute: Partial<Record<CountedRoute, number>>;
  platform: {
    /** Package reads from blob storage: a URL (SAS or managed identity) or a Flex released package. */
    packageFetches: number;
  };
}

export class RequestCounts {
  private counters = RequestCounts.empty();

  private static empty(): AppServiceRequestCounters {
    return { total: 0, byFront: { arm: 0, kudu: 0, host: 0 }, byRoute: {}, platform: { packageFetches: 0 } };
  }

  /** One request that reached a front end; `route` undefined when it matched none. */
  request(front: AppServiceFront, route: RouteName | undefined): void {
    const name: CountedRoute = route ?? `${front}.other`;
    this.counters.total += 1;
    this.counters.byFront[front] += 1;
    this.counters.byRoute[name] = (this.counters.byRoute[name] ?? 0) + 1;
  }

  packageFetch(): void {
    this.counters.platform.packageFetches += 1;
  }

  snapshot(): AppServiceRequestCounters {
    return structuredClone(this.counters);
  }

  reset(): void {
    this.counters = RequestCounts.empty();
  }
}
