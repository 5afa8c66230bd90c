// Coordination with other tabs of the origin (`crossTab`), and the page's wake-ups. The lock
// serialises refresh so two tabs never present the same rotated cookie at once; the channel
// carries "signed-in" and "signed-out", never a token.
import {
  AbortController, abortController, addListener, apply, bag, BroadcastChannel, clearTimeout,
  closeChannel, console, consoleInfo, controllerSignal, document, lockManager, messageData,
  navigator, postMessage, Promise, removeListener, requestLock, setTimeout, then, visibilityState,
} from "./captured.js";

let saidNoLocks = false;

export class Tabs {
  #locks;
  #lockName;
  #channel;
  #release;
  #stopWake;

  /**
   * For the refresh endpoint at `refreshUrl` (absolute). `hear(message)` is called with what
   * other tabs say, `wake()` when the page is shown again or the network comes back.
   */
  constructor(refreshUrl, crossTab, hear, wake) {
    if (crossTab) {
      this.#locks = navigator && lockManager && requestLock ? apply(lockManager, navigator, []) : undefined;
      if (this.#locks) this.#lockName = "authfetch:refresh:" + refreshUrl;
      else if (!saidNoLocks && consoleInfo) {
        saidNoLocks = true;
        apply(consoleInfo, console, ["authfetch: the Web Locks API is not available, so refresh is single-flight within each tab only"]);
      }
      if (BroadcastChannel) {
        try {
          this.#channel = new BroadcastChannel("authfetch:" + refreshUrl);
          apply(addListener, this.#channel, ["message", (event) => {
            const data = apply(messageData, event, []);
            if (typeof data === "string") hear(data);
          }]);
        } catch {
          this.#channel = undefined;
        }
      }
    }
    const global = globalThis;
    const shown = () => {
      if (apply(visibilityState, document, []) === "visible") wake();
    };
    if (document && visibilityState) apply(addListener, document, ["visibilitychange", shown]);
    if (addListener) apply(addListener, global, ["online", wake]);
    this.#stopWake = () => {
      if (document && visibilityState) apply(removeListener, document, ["visibilitychange", shown]);
      if (removeListener) apply(removeListener, global, ["online", wake]);
    };
  }

  /**
   * Runs `granted()` once the refresh lock is held (at once without one); `notGranted()` when
   * it was not granted within `timeoutMs`. The lock is held until `unlock()`.
   */
  lock(timeoutMs, granted, notGranted) {
    if (!this.#locks) {
      granted();
      return;
    }
    const controller = new AbortController();
    const timer = apply(setTimeout, undefined, [() => apply(abortController, controller, []), timeoutMs]);
    const options = bag();
    options.signal = apply(controllerSignal, controller, []);
    let held = false;
    const work = () => new Promise((release) => {
      held = true;
      apply(clearTimeout, undefined, [timer]);
      this.#release = release;
      granted();
    });
    try {
      apply(then, apply(requestLock, this.#locks, [this.#lockName, options, work]), [undefined, () => {
        if (!held) notGranted();
      }]);
    } catch {
      notGranted();
    }
  }

  /** Releases the refresh lock, if held. */
  unlock() {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  /** Tells the other tabs `message`. */
  say(message) {
    if (this.#channel) apply(postMessage, this.#channel, [message]);
  }

  /** Stops listening (the client was freed). */
  close() {
    this.unlock();
    this.#stopWake();
    if (this.#channel) apply(closeChannel, this.#channel, []);
    this.#channel = undefined;
  }
}
