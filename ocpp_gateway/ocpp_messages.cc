#include "ocpp_gateway/ocpp_messages.h"

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "ocpp/v16/messages.pb.h"

namespace evnet::ocpp {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::util::JsonParseOptions;
using google::protobuf::util::JsonPrintOptions;

constexpr absl::string_view kPackage = "ocpp.v16.";
// OCPP-J: a message id is at most 36 characters.
constexpr size_t kMaxIdLength = 36;

std::unique_ptr<Message> NewMessage(absl::string_view action, absl::string_view suffix) {
  // The generated messages register themselves; keep them linked in.
  (void)::ocpp::v16::BootNotificationRequest::descriptor();
  const Descriptor* type = google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(
      absl::StrCat(kPackage, action, suffix));
  if (type == nullptr || action.empty()) return nullptr;
  return std::unique_ptr<Message>(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
}

std::optional<CallError> Violation(ErrorCode code, const std::string& path,
                                   absl::string_view what) {
  return CallError{code, absl::StrCat(path, ": ", what)};
}

std::optional<CallError> CheckValue(const Message& message, const FieldDescriptor& field,
                                    int index, const std::string& path);

std::optional<CallError> CheckMessage(const Message& message, const std::string& prefix) {
  const Descriptor& type = *message.GetDescriptor();
  const Reflection& reflection = *message.GetReflection();
  for (int i = 0; i < type.field_count(); ++i) {
    const FieldDescriptor& field = *type.field(i);
    const std::string path = absl::StrCat(prefix, field.json_name());
    const bool required = field.options().GetExtension(::ocpp::v16::required);
    if (field.is_repeated()) {
      const int size = reflection.FieldSize(message, &field);
      if (required && size == 0) {
        return Violation(ErrorCode::kOccurenceConstraintViolation, path, "needs at least one");
      }
      for (int k = 0; k < size; ++k) {
        if (auto error = CheckValue(message, field, k, absl::StrCat(path, "[", k, "]"))) {
          return error;
        }
      }
      continue;
    }
    if (!reflection.HasField(message, &field)) {
      if (required) return Violation(ErrorCode::kOccurenceConstraintViolation, path, "is required");
      continue;
    }
    if (auto error = CheckValue(message, field, -1, path)) return error;
  }
  return std::nullopt;
}

std::optional<CallError> CheckValue(const Message& message, const FieldDescriptor& field,
                                    int index, const std::string& path) {
  const Reflection& reflection = *message.GetReflection();
  const auto& options = field.options();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& inner = index < 0 ? reflection.GetMessage(message, &field)
                                       : reflection.GetRepeatedMessage(message, &field, index);
      return CheckMessage(inner, path + ".");
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      const std::string value = index < 0 ? reflection.GetString(message, &field)
                                          : reflection.GetRepeatedString(message, &field, index);
      const int max_length = options.GetExtension(::ocpp::v16::max_length);
      if (max_length > 0 && static_cast<int>(value.size()) > max_length) {
        return Violation(ErrorCode::kPropertyConstraintViolation, path,
                         absl::StrCat("is longer than ", max_length, " characters"));
      }
      const std::string& values = options.GetExtension(::ocpp::v16::values);
      if (!values.empty()) {
        bool allowed = false;
        for (absl::string_view v : absl::StrSplit(values, '|')) allowed = allowed || v == value;
        if (!allowed) {
          return Violation(ErrorCode::kPropertyConstraintViolation, path,
                           absl::StrCat("\"", value.substr(0, 50), "\" is not one of ", values));
        }
      }
      if (options.GetExtension(::ocpp::v16::date_time) && !ParseDateTime(value).has_value()) {
        return Violation(ErrorCode::kTypeConstraintViolation, path,
                         absl::StrCat("\"", value.substr(0, 50), "\" is not an RFC 3339 time"));
      }
      return std::nullopt;
    }
    case FieldDescriptor::CPPTYPE_INT32:
      if (options.GetExtension(::ocpp::v16::non_negative) && index < 0 &&
          reflection.GetInt32(message, &field) < 0) {
        return Violation(ErrorCode::kPropertyConstraintViolation, path, "is negative");
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

std::string ToJsonText(const Message& message) {
  std::string out;
  JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string Quoted(absl::string_view text) {
  google::protobuf::Value value;
  value.set_string_value(std::string(text));
  return ToJsonText(value);
}

}  // namespace

absl::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotImplemented: return "NotImplemented";
    case ErrorCode::kNotSupported: return "NotSupported";
    case ErrorCode::kInternalError: return "InternalError";
    case ErrorCode::kProtocolError: return "ProtocolError";
    case ErrorCode::kSecurityError: return "SecurityError";
    case ErrorCode::kFormationViolation: return "FormationViolation";
    case ErrorCode::kPropertyConstraintViolation: return "PropertyConstraintViolation";
    case ErrorCode::kOccurenceConstraintViolation: return "OccurenceConstraintViolation";
    case ErrorCode::kTypeConstraintViolation: return "TypeConstraintViolation";
    case ErrorCode::kGenericError: return "GenericError";
  }
  return "GenericError";
}

std::variant<Frame, BadFrame> ParseFrame(absl::string_view text) {
  google::protobuf::ListValue list;
  if (!google::protobuf::util::JsonStringToMessage(std::string(text), &list).ok()) {
    return BadFrame{"-1", {ErrorCode::kFormationViolation, "the frame is not a JSON array"}};
  }
  const auto& items = list.values();
  std::string id = "-1";
  if (items.size() >= 2 && items[1].has_string_value() && !items[1].string_value().empty() &&
      items[1].string_value().size() <= kMaxIdLength) {
    id = items[1].string_value();
  }
  if (items.empty() || !items[0].has_number_value()) {
    return BadFrame{id, {ErrorCode::kFormationViolation, "the frame has no message type"}};
  }
  if (id == "-1") {
    return BadFrame{id, {ErrorCode::kFormationViolation,
                         "the frame has no message id (a string of 1 to 36 characters)"}};
  }
  Frame frame;
  frame.id = id;
  const double type = items[0].number_value();
  if (type == 2) {
    frame.type = MessageType::kCall;
    if (items.size() != 4 || !items[2].has_string_value()) {
      return BadFrame{id, {ErrorCode::kProtocolError, "a CALL is [2, id, action, payload]"}};
    }
    frame.action = items[2].string_value();
    if (!items[3].has_struct_value()) {
      return BadFrame{id, {ErrorCode::kFormationViolation, "the payload is not a JSON object"}};
    }
    frame.payload_json = ToJsonText(items[3].struct_value());
  } else if (type == 3) {
    frame.type = MessageType::kCallResult;
    if (items.size() != 3 || !items[2].has_struct_value()) {
      return BadFrame{id, {ErrorCode::kProtocolError, "a CALLRESULT is [3, id, payload]"}};
    }
    frame.payload_json = ToJsonText(items[2].struct_value());
  } else if (type == 4) {
    frame.type = MessageType::kCallError;
    if (items.size() < 4 || !items[2].has_string_value() || !items[3].has_string_value()) {
      return BadFrame{id, {ErrorCode::kProtocolError,
                           "a CALLERROR is [4, id, code, description, details]"}};
    }
    frame.error_code = items[2].string_value();
    frame.error_description = items[3].string_value();
  } else {
    return BadFrame{id, {ErrorCode::kFormationViolation,
                         absl::StrCat("unknown message type ", type, " (2, 3 or 4)")}};
  }
  return frame;
}

std::unique_ptr<Message> NewRequest(absl::string_view action) {
  return NewMessage(action, "Request");
}

std::unique_ptr<Message> NewResponse(absl::string_view action) {
  return NewMessage(action, "Response");
}

namespace {

std::optional<::ocpp::v16::Sender> SenderOf(absl::string_view action) {
  std::unique_ptr<Message> request = NewRequest(action);
  if (request == nullptr) return std::nullopt;
  return request->GetDescriptor()->options().GetExtension(::ocpp::v16::sent_by);
}

}  // namespace

bool SentByChargePoint(absl::string_view action) {
  const std::optional<::ocpp::v16::Sender> sender = SenderOf(action);
  return sender == ::ocpp::v16::SENDER_CHARGE_POINT || sender == ::ocpp::v16::SENDER_EITHER;
}

bool SentByCentralSystem(absl::string_view action) {
  const std::optional<::ocpp::v16::Sender> sender = SenderOf(action);
  return sender == ::ocpp::v16::SENDER_CENTRAL_SYSTEM || sender == ::ocpp::v16::SENDER_EITHER;
}

std::optional<CallError> DecodePayload(absl::string_view json, Message* payload) {
  JsonParseOptions strict;
  strict.ignore_unknown_fields = false;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json), payload, strict).ok()) {
    // Known fields of the wrong type fail even when unknown ones are skipped.
    JsonParseOptions lenient;
    lenient.ignore_unknown_fields = true;
    payload->Clear();
    if (!google::protobuf::util::JsonStringToMessage(std::string(json), payload, lenient).ok()) {
      return CallError{ErrorCode::kTypeConstraintViolation,
                       absl::StrCat("a field of ", ActionOf(*payload), " has the wrong type")};
    }
    return CallError{ErrorCode::kFormationViolation,
                     absl::StrCat("the payload has a field ", ActionOf(*payload),
                                  " does not define")};
  }
  return CheckPayload(*payload);
}

std::optional<CallError> CheckPayload(const Message& payload) {
  return CheckMessage(payload, "");
}

std::string ActionOf(const Message& payload) {
  std::string name = payload.GetDescriptor()->name();
  for (absl::string_view suffix : {"Request", "Response"}) {
    if (absl::EndsWith(name, suffix)) return name.substr(0, name.size() - suffix.size());
  }
  return name;
}

std::string EncodeCall(absl::string_view id, const Message& request) {
  return absl::StrCat("[2,", Quoted(id), ",", Quoted(ActionOf(request)), ",", ToJsonText(request),
                      "]");
}

std::string EncodeCallResult(absl::string_view id, const Message& response) {
  return absl::StrCat("[3,", Quoted(id), ",", ToJsonText(response), "]");
}

std::string EncodeCallError(absl::string_view id, const CallError& error) {
  return absl::StrCat("[4,", Quoted(id), ",", Quoted(ErrorCodeName(error.code)), ",",
                      Quoted(error.description.substr(0, 255)), ",{}]");
}

std::optional<absl::Time> ParseDateTime(absl::string_view text) {
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &time, &error)) return time;
  // No offset: UTC.
  if (absl::ParseTime(absl::RFC3339_full, absl::StrCat(text, "Z"), &time, &error)) return time;
  return std::nullopt;
}

std::string FormatDateTime(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

}  // namespace evnet::ocpp
