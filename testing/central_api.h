// What a test asks central as an operator, through its gRPC API: one
// definition for the in-process network and the network of real processes.
// Each call has a deadline of a few seconds.
#ifndef EVNET_TESTING_CENTRAL_API_H_
#define EVNET_TESTING_CENTRAL_API_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "evnet/v1/central.grpc.pb.h"

namespace evnet::test {

// The CP's status; CP_STATUS_UNSPECIFIED when central does not answer.
v1::CpStatus CpStatusOf(v1::CentralService::Stub& central, const std::string& cp_id);
// The sessions ListSessions gives (first page); none when central does not answer.
std::vector<v1::Session> SessionsOf(v1::CentralService::Stub& central);
// Stop or resume one CP; UNAVAILABLE with central's message when refused.
absl::Status StopCpAt(v1::CentralService::Stub& central, const std::string& cp_id);
absl::Status ResumeCpAt(v1::CentralService::Stub& central, const std::string& cp_id);

}  // namespace evnet::test

#endif  // EVNET_TESTING_CENTRAL_API_H_
