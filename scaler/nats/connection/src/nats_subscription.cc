// NatsConnection's subscriptions: SUB and UNSUB written on the I/O thread.
#include <nats/nats.h>

#include <memory>
#include <utility>

#include "connection_util.h"
#include "io_queue.h"
#include "jss/nats/connection/nats_connection.h"

namespace jss::nats {

using detail::Ticks;

namespace {

// Owns the callback; freed by cnats' on-complete callback, after which no
// message callback can run, so unsubscribing never races a delivery.
struct SubscriptionClosure {
  std::function<void()> on_message;
};

void OnSubscriptionMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  natsMsg_Destroy(msg);
  static_cast<SubscriptionClosure*>(closure)->on_message();
}

void OnSubscriptionComplete(void* closure) { delete static_cast<SubscriptionClosure*>(closure); }

// What the I/O thread knows of one subscription: the cnats handle once SUB
// was written, and whether the owner dropped it before that. Atomic: a
// clean-up runs inline once the queue is stopping, maybe while the I/O thread
// finishes its last operation.
struct SubscriptionSlot {
  std::atomic<natsSubscription*> sub{nullptr};
  std::atomic<bool> dropped{false};
};

// Subscribing writes SUB and unsubscribing UNSUB to the socket: both are done
// on the I/O thread, in order, so the thread creating or dropping the handle
// (a gRPC or hub thread, possibly under the hub's lock) never blocks on a
// peer that stopped reading.
class SubscriptionImpl final : public NatsConnection::Subscription {
 public:
  SubscriptionImpl(std::shared_ptr<SubscriptionSlot> slot, std::shared_ptr<IoQueue> io)
      : slot_(std::move(slot)), io_(std::move(io)) {}
  ~SubscriptionImpl() override {
    slot_->dropped = true;
    // Queued behind the SUB, so it sees the handle that wrote.
    io_->PostCleanup([slot = slot_] {
      natsSubscription* sub = slot->sub.exchange(nullptr);
      if (sub == nullptr) return;  // never subscribed (or the connection's close frees it)
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    });
  }

 private:
  std::shared_ptr<SubscriptionSlot> slot_;
  std::shared_ptr<IoQueue> io_;
};

}  // namespace

core::StatusOr<std::unique_ptr<NatsConnection::Subscription>> NatsConnection::Subscribe(
    const std::string& subject, std::function<void()> on_message, int max_messages,
    std::function<void(const core::Status&)> on_failed) {
  auto slot = std::make_shared<SubscriptionSlot>();
  const bool posted = io_->Post([this, slot, subject, max_messages,
                                 on_message = std::move(on_message),
                                 on_failed = std::move(on_failed)]() mutable {
    if (slot->dropped.load()) return;  // dropped before it was written
    auto* closure = new SubscriptionClosure{std::move(on_message)};
    natsSubscription* sub = nullptr;
    write_started_ = Ticks(std::chrono::steady_clock::now());
    const natsStatus s =
        natsConnection_Subscribe(&sub, conn_, subject.c_str(), &OnSubscriptionMessage, closure);
    write_started_ = 0;
    if (s != NATS_OK) {
      delete closure;
      if (on_failed) {
        on_failed(core::UnavailableError(
            fmt::format("subscribing to \"{}\": {}", subject, natsStatus_GetText(s))));
      }
      return;
    }
    natsSubscription_SetOnCompleteCB(sub, &OnSubscriptionComplete, closure);
    // After the completion callback is set (cnats may drop the subscription
    // as soon as this returns).
    if (max_messages > 0) natsSubscription_AutoUnsubscribe(sub, max_messages);
    slot->sub.store(sub);
  });
  if (!posted) {
    return core::ResourceExhaustedError(fmt::format(
        "NATS connection \"{}\" is not keeping up with writes; subscribing to \"{}\" later",
        options_.name, subject));
  }
  return std::unique_ptr<Subscription>(new SubscriptionImpl(std::move(slot), io_));
}

}  // namespace jss::nats
