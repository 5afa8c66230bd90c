// Coordination with other tabs of the origin (`crossTab`), and the page's wake-ups. The lock
// serialises refresh so two tabs never present the same rotated cookie at once; the channel
// carries "signed-in" and "signed-out", never a token.
import {
  AbortController, abortController, addListener, bag, BroadcastChannel, clearTimeout,
  closeChannel, console, consoleInfo, controllerSignal, document, lockManager, messageData,
  followed, global, navigator, postMessage, removeListener, requestLock, setTimeout, settled, visibilityState,
} from "./captured.js";

let saidNoLocks = false;

/**
 * The tabs of the refresh endpoint at `refreshUrl` (absolute), as `lock`, `unlock`, `say` and
 * `close`. `hear(message)` is called with what other tabs say, `wake()` when the page is shown
 * again or the network comes back.
 */
export const tabs = (function tabs(refreshUrl, crossTab, hear, wake) {
  let locks, lockName, channel, release;
  if (crossTab) {
    locks = navigator && lockManager && requestLock ? lockManager(navigator) : undefined;
    if (locks) lockName = "authfetch:refresh:" + refreshUrl;
    else if (!saidNoLocks && consoleInfo) {
      saidNoLocks = true;
      consoleInfo(console, "authfetch: the Web Locks API is not available, so refresh is single-flight within each tab only");
    }
    if (BroadcastChannel) {
      try {
        channel = new BroadcastChannel("authfetch:" + refreshUrl);
        addListener(channel, "message", (event) => {
          const data = messageData(event);
          // Only "signed-in" and "signed-out" mean anything; any script of the origin can
          // post megabytes, which every tab would otherwise copy into its core.
          if (typeof data === "string" && data.length <= 16) hear(data);
        });
      } catch {
        channel = undefined;
      }
    }
  }
  const shown = () => {
    if (visibilityState(document) === "visible") wake();
  };
  if (document && visibilityState) addListener(document, "visibilitychange", shown);
  if (addListener) addListener(global, "online", wake);

  const self = bag();
  /** Whether refreshes wait for a lock the other tabs share (for the debug lines). */
  self.locked = locks !== undefined;
  /**
   * Runs `granted()` once the refresh lock is held (at once without one); `notGranted()` when
   * it was not granted within `timeoutMs`. The lock is held until `unlock()`.
   */
  self.lock = (timeoutMs, granted, notGranted) => {
    if (!locks) {
      granted();
      return;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => abortController(controller), timeoutMs);
    const options = bag();
    options.signal = controllerSignal(controller);
    let held = false;
    let gaveUp = false;
    // A lock that comes after the client gave up on it (it can only be granted as its request
    // is withdrawn) is let go at once: nothing would release it.
    const work = () => followed((letGo) => {
      if (gaveUp) return letGo();
      held = true;
      clearTimeout(timer);
      release = letGo;
      granted();
    });
    const giveUp = () => {
      if (held || gaveUp) return;
      gaveUp = true;
      clearTimeout(timer);
      abortController(controller);
      notGranted();
    };
    try {
      settled(requestLock(locks, lockName, options, work), () => {}, giveUp);
    } catch {
      giveUp();
    }
  };
  /** Releases the refresh lock, if held. */
  self.unlock = () => {
    const letGo = release;
    release = undefined;
    letGo?.();
  };
  /** Tells the other tabs `message`. */
  self.say = (message) => {
    if (channel) postMessage(channel, message);
  };
  /** Stops listening (the client was freed). */
  self.close = () => {
    self.unlock();
    if (document && visibilityState) removeListener(document, "visibilitychange", shown);
    if (removeListener) removeListener(global, "online", wake);
    if (channel) closeChannel(channel);
    channel = undefined;
  };
  return self;
});
