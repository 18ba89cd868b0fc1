// OCPP-J 1.6 framing and payloads: a text frame is a JSON array, a CALL
// [2, id, action, payload], a CALLRESULT [3, id, payload] or a CALLERROR
// [4, id, code, description, details]. The payloads are the messages of
// proto/ocpp/v16/messages.proto; what their JSON schemas require is checked
// here, from the options on those messages' fields, and a frame that breaks
// it gets the CALLERROR that OCPP-J prescribes.
#ifndef EVNET_OCPP_GATEWAY_OCPP_MESSAGES_H_
#define EVNET_OCPP_GATEWAY_OCPP_MESSAGES_H_

#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"

namespace evnet::ocpp {

// OCPP-J's error codes (section 4.2.3), spelled as the standard spells them.
enum class ErrorCode {
  kNotImplemented,               // the action is unknown
  kNotSupported,                 // known, but not one this side answers
  kInternalError,
  kProtocolError,                // incomplete frame
  kSecurityError,
  kFormationViolation,           // not valid JSON, or not the action's structure
  kPropertyConstraintViolation,  // a field's value is not allowed
  kOccurenceConstraintViolation, // a required field is missing
  kTypeConstraintViolation,      // a field has the wrong type
  kGenericError,
};
absl::string_view ErrorCodeName(ErrorCode code);

struct CallError {
  ErrorCode code;
  std::string description;
};

enum class MessageType { kCall = 2, kCallResult = 3, kCallError = 4 };

struct Frame {
  MessageType type;
  std::string id;
  std::string action;        // kCall
  std::string payload_json;  // kCall and kCallResult: the payload object
  std::string error_code;    // kCallError
  std::string error_description;
};

// A frame that could not be read: the error to answer it with, and the id
// to answer to ("-1" when not even the id could be read).
struct BadFrame {
  std::string id;
  CallError error;
};

std::variant<Frame, BadFrame> ParseFrame(absl::string_view text);

// A new, empty <action>Request or <action>Response; null for an action OCPP
// 1.6 does not define.
std::unique_ptr<google::protobuf::Message> NewRequest(absl::string_view action);
std::unique_ptr<google::protobuf::Message> NewResponse(absl::string_view action);
// Whether the charge point (rather than the central system) sends `action`.
bool SentByChargePoint(absl::string_view action);
// Whether the central system may send `action` (DataTransfer goes both ways).
bool SentByCentralSystem(absl::string_view action);

// Parses `json` into `payload` and checks it against its schema: nullopt if
// it is a valid payload, else the error to answer with.
std::optional<CallError> DecodePayload(absl::string_view json,
                                       google::protobuf::Message* payload);
// Checks an already built payload (what this side sends) the same way.
std::optional<CallError> CheckPayload(const google::protobuf::Message& payload);

// "BootNotification" for a BootNotificationRequest or Response.
std::string ActionOf(const google::protobuf::Message& payload);

std::string EncodeCall(absl::string_view id, const google::protobuf::Message& request);
std::string EncodeCallResult(absl::string_view id, const google::protobuf::Message& response);
std::string EncodeCallError(absl::string_view id, const CallError& error);

// OCPP's dateTime: RFC 3339; a time without an offset is read as UTC, as
// many chargers send it so.
std::optional<absl::Time> ParseDateTime(absl::string_view text);
std::string FormatDateTime(absl::Time time);

}  // namespace evnet::ocpp

#endif  // EVNET_OCPP_GATEWAY_OCPP_MESSAGES_H_
