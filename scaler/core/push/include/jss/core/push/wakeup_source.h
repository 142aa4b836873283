#pragma once

#include <functional>
#include <memory>
#include <string>

#include "jss/core/trigger/consumer_key.h"

namespace jss::core {

// Tells the hub, as soon as possible, that a consumer may have new work (a
// message was published on one of its subjects). One arming reports at most
// one message: after `on_activity` the watch is disarmed until Rearm(), so a
// busy subject costs the scaler a bounded number of messages per second.
class WakeupSource {
 public:
  class Handle {
   public:
    virtual ~Handle() = default;  // stops watching
    // Listens again (after a wake-up, or after Disarm). False if it cannot:
    // the watch is then unavailable. Never calls back before returning.
    virtual bool Rearm() = 0;
    // Stops listening but keeps what Rearm() needs (the subjects).
    virtual void Disarm() = 0;
  };
  struct Callbacks {
    std::function<void()> on_activity;       // a message arrived; now disarmed
    std::function<void(bool live)> on_ready;  // once: armed, or unavailable
    // The watch stopped working after it was set up (e.g. NATS refused the
    // subscription for lack of permission, which it reports asynchronously):
    // it is unavailable now, as if on_ready(false).
    std::function<void()> on_lost = [] {};
  };
  // Called with a connection name when every watch on it may have missed
  // publishes (NATS reconnected after an outage).
  using ResyncHandler = std::function<void(const std::string& connection)>;
  virtual ~WakeupSource() = default;
  // Sets the watch up asynchronously; the callbacks may run on any thread,
  // even before Watch returns.
  virtual std::unique_ptr<Handle> Watch(const ConsumerKey& key, Callbacks callbacks) = 0;
  // Replaces the resync handler (nullptr: none). Once this returns the old
  // handler is not running and is never called again.
  virtual void SetResyncHandler(ResyncHandler handler) { (void)handler; }
};

}  // namespace jss::core
