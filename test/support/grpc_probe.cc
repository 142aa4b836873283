#include "support/grpc_probe.h"

#include <grpcpp/generic/generic_stub.h>

#include <future>

namespace jss::testing {
namespace {

constexpr auto kDeadline = std::chrono::seconds(3);

core::Status FromGrpc(const grpc::Status& s) {
  return core::Status(static_cast<core::StatusCode>(s.error_code()), s.error_message());
}

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// A length-delimited protobuf field (wire type 2); lengths here are < 128.
std::string LengthDelimited(int field, const std::string& value) {
  std::string out;
  out += static_cast<char>((field << 3) | 2);
  out += static_cast<char>(value.size());
  out += value;
  return out;
}

bool ReadVarint(const std::string& in, size_t& pos, uint64_t& value) {
  value = 0;
  for (int shift = 0; pos < in.size() && shift < 64; shift += 7) {
    const auto byte = static_cast<uint8_t>(in[pos++]);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// Calls `visit(field, bytes)` for each length-delimited field, and
// `varint(field, value)` for each varint; false on malformed input.
template <typename OnBytes, typename OnVarint>
bool Walk(const std::string& in, OnBytes on_bytes, OnVarint on_varint) {
  size_t pos = 0;
  while (pos < in.size()) {
    uint64_t tag;
    if (!ReadVarint(in, pos, tag)) return false;
    const int field = static_cast<int>(tag >> 3);
    const int wire = static_cast<int>(tag & 7);
    uint64_t v;
    if (wire == 0) {
      if (!ReadVarint(in, pos, v)) return false;
      on_varint(field, v);
    } else if (wire == 2) {
      if (!ReadVarint(in, pos, v) || v > in.size() - pos) return false;
      on_bytes(field, in.substr(pos, v));
      pos += v;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

core::StatusOr<HealthStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                         const std::string& service) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kDeadline);
  // HealthCheckRequest { string service = 1; }
  const grpc::ByteBuffer request = ToBuffer(service.empty() ? "" : LengthDelimited(1, service));
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) return FromGrpc(status);
  // HealthCheckResponse { ServingStatus status = 1; }
  uint64_t value = 0;
  if (!Walk(Flatten(response), [](int, const std::string&) {},
            [&value](int field, uint64_t v) {
              if (field == 1) value = v;
            })) {
    return core::InternalError("malformed HealthCheckResponse");
  }
  return static_cast<HealthStatus>(value);
}

core::StatusOr<std::vector<std::string>> ListServicesByReflection(
    const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kDeadline);
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                               &cq);
  void* tag;
  bool ok;
  auto step = [&](int want) {
    return cq.Next(&tag, &ok) && tag == reinterpret_cast<void*>(static_cast<intptr_t>(want)) && ok;
  };
  // Every step runs only if the one before succeeded; Finish and the queue
  // drain always run (a CompletionQueue must be drained before it goes).
  grpc::ByteBuffer response;
  call->StartCall(reinterpret_cast<void*>(1));
  bool got = false;
  if (step(1)) {
    // ServerReflectionRequest { string list_services = 7; }
    call->Write(ToBuffer(LengthDelimited(7, "")), reinterpret_cast<void*>(2));
    if (step(2)) {
      call->Read(&response, reinterpret_cast<void*>(3));
      got = step(3);
      call->WritesDone(reinterpret_cast<void*>(4));
      step(4);
    }
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(5)) {
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!got) return status.ok() ? core::InternalError("no reflection response") : FromGrpc(status);
  // ServerReflectionResponse { ListServiceResponse list_services_response = 6; }
  // ListServiceResponse { repeated ServiceResponse service = 1; }
  // ServiceResponse { string name = 1; }
  std::vector<std::string> names;
  auto ignore = [](int, uint64_t) {};
  bool well_formed = Walk(
      Flatten(response),
      [&](int field, const std::string& list) {
        if (field != 6) return;
        Walk(list,
             [&](int f, const std::string& service) {
               if (f != 1) return;
               Walk(service,
                    [&](int g, const std::string& name) {
                      if (g == 1) names.push_back(name);
                    },
                    ignore);
             },
             ignore);
      },
      ignore);
  if (!well_formed) return core::InternalError("malformed ServerReflectionResponse");
  return names;
}

}  // namespace jss::testing
