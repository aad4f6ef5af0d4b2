/** How often, at most, the page asks again for a file that the server says is being written. */
export const FETCH_ATTEMPTS = 10;

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `fetch`, asking again while the server answers 503 (a training run is replacing its checkpoint
 * folder): after the Retry-After seconds it sends (at most 10, 1 when absent), up to `attempts`
 * times. Other answers are returned as they are.
 */
export async function fetchRetrying(url: string, init: RequestInit = {}, attempts = FETCH_ATTEMPTS): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(url, init);
    if (response.status !== 503 || attempt >= attempts) return response;
    const seconds = Number(response.headers.get('retry-after'));
    await response.body?.cancel();
    await wait(1000 * (Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 10) : 1));
  }
}
