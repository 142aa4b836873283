#include "jss/tools/jetstream_admin.h"

#include <fmt/format.h>
#include <nats/nats.h>

#include "jss/core/base/strings.h"

namespace jss::tools {
namespace {

core::Status JsError(std::string_view what, natsStatus s, jsErrCode code) {
  return core::UnavailableError(fmt::format("{}: {} (JetStream error {})", what,
                                            natsStatus_GetText(s), static_cast<int>(code)));
}

}  // namespace

core::StatusOr<std::unique_ptr<JetStreamAdmin>> JetStreamAdmin::Connect(const std::string& url) {
  std::unique_ptr<JetStreamAdmin> admin(new JetStreamAdmin());
  if (natsStatus s = natsConnection_ConnectTo(&admin->conn_, url.c_str()); s != NATS_OK) {
    return core::UnavailableError(fmt::format("connecting to {}: {}", url, natsStatus_GetText(s)));
  }
  if (natsStatus s = natsConnection_JetStream(&admin->js_, admin->conn_, nullptr); s != NATS_OK) {
    return core::UnavailableError(fmt::format("JetStream context: {}", natsStatus_GetText(s)));
  }
  return admin;
}

JetStreamAdmin::~JetStreamAdmin() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (conn_ != nullptr) natsConnection_Destroy(conn_);
}

core::StatusOr<std::string> JetStreamAdmin::Request(const std::string& subject,
                                                    const std::string& body) {
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_RequestString(&reply, conn_, subject.c_str(), body.c_str(), 5000);
  if (s != NATS_OK) {
    return core::UnavailableError(
        fmt::format("request to {}: {}", subject, natsStatus_GetText(s)));
  }
  std::string data(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply)));
  natsMsg_Destroy(reply);
  return data;
}

core::Status JetStreamAdmin::AddStream(const StreamSpec& spec) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = spec.name.c_str();
  std::vector<const char*> subjects;
  for (const auto& s : spec.subjects) subjects.push_back(s.c_str());
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Storage = spec.memory_storage ? js_MemoryStorage : js_FileStorage;
  cfg.Replicas = spec.replicas;
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, js_, &cfg, nullptr, &code);
  if (si != nullptr) jsStreamInfo_Destroy(si);
  if (s != NATS_OK) return JsError(fmt::format("adding stream {}", spec.name), s, code);
  return core::OkStatus();
}

core::Status JetStreamAdmin::AddConsumer(const ConsumerSpec& spec) {
  jsConsumerConfig cfg;
  jsConsumerConfig_Init(&cfg);
  cfg.Durable = spec.durable.c_str();
  cfg.AckPolicy = js_AckExplicit;
  if (!spec.filter_subject.empty()) cfg.FilterSubject = spec.filter_subject.c_str();
  jsConsumerInfo* ci = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddConsumer(&ci, js_, spec.stream.c_str(), &cfg, nullptr, &code);
  if (ci != nullptr) jsConsumerInfo_Destroy(ci);
  if (s != NATS_OK) return JsError(fmt::format("adding consumer {}", spec.durable), s, code);
  return core::OkStatus();
}

core::Status JetStreamAdmin::DeleteStream(const std::string& stream) {
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteStream(js_, stream.c_str(), nullptr, &code);
  if (s != NATS_OK) return JsError(fmt::format("deleting stream {}", stream), s, code);
  return core::OkStatus();
}

core::Status JetStreamAdmin::DeleteConsumer(const std::string& stream,
                                            const std::string& consumer) {
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteConsumer(js_, stream.c_str(), consumer.c_str(), nullptr, &code);
  if (s != NATS_OK) return JsError(fmt::format("deleting consumer {}", consumer), s, code);
  return core::OkStatus();
}

core::Status JetStreamAdmin::Publish(const std::string& subject, int count) {
  for (int i = 0; i < count; ++i) {
    const std::string body = fmt::format("message {}", i);
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_Publish(&ack, js_, subject.c_str(), body.data(),
                              static_cast<int>(body.size()), nullptr, &code);
    if (ack != nullptr) jsPubAck_Destroy(ack);
    if (s != NATS_OK) return JsError(fmt::format("publishing to {}", subject), s, code);
  }
  return core::OkStatus();
}

core::StatusOr<int> JetStreamAdmin::Fetch(const std::string& stream, const std::string& consumer,
                                          int count, bool ack) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Consumer = consumer.c_str();  // bind: never create or delete the consumer
  natsSubscription* sub = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_PullSubscribe(&sub, js_, nullptr, consumer.c_str(), nullptr, &so, &code);
  if (s != NATS_OK) return JsError("binding pull subscription", s, code);
  int received = 0;
  while (received < count) {
    natsMsgList list{};
    s = natsSubscription_Fetch(&list, sub, count - received, 2000, &code);
    if (s != NATS_OK) break;
    for (int i = 0; i < list.Count; ++i) {
      if (ack) natsMsg_AckSync(list.Msgs[i], nullptr, nullptr);
      ++received;
    }
    natsMsgList_Destroy(&list);
  }
  natsSubscription_Destroy(sub);
  if (received < count && s != NATS_OK && s != NATS_TIMEOUT) {
    return JsError("fetching", s, code);
  }
  return received;
}

core::StatusOr<core::ConsumerLag> JetStreamAdmin::ConsumerInfo(const std::string& stream,
                                                              const std::string& consumer) {
  jsConsumerInfo* ci = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&ci, js_, stream.c_str(), consumer.c_str(), nullptr, &code);
  if (s != NATS_OK) return JsError("consumer info", s, code);
  core::ConsumerLag lag{ci->NumPending, static_cast<uint64_t>(ci->NumAckPending)};
  jsConsumerInfo_Destroy(ci);
  return lag;
}

}  // namespace jss::tools
