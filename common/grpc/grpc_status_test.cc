#include "common/grpc/grpc_status.h"

#include "gtest/gtest.h"

namespace evnet {
namespace {

TEST(GrpcStatusTest, OkStaysOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatusTest, KeepsCodeAndMessageBothWays) {
  const absl::Status cases[] = {
      absl::NotFoundError("no CP CP-404"),
      absl::FailedPreconditionError("CP-003 is BROKEN"),
      absl::UnavailableError("central is away"),
      absl::DeadlineExceededError("check timed out"),
      absl::InvalidArgumentError("cp_id is empty"),
      absl::AlreadyExistsError("CP-001 is already connected"),
  };
  for (const absl::Status& original : cases) {
    grpc::Status wire = ToGrpcStatus(original);
    EXPECT_EQ(static_cast<int>(wire.error_code()), static_cast<int>(original.code()));
    EXPECT_EQ(wire.error_message(), std::string(original.message()));
    EXPECT_EQ(FromGrpcStatus(wire), original);
  }
}

}  // namespace
}  // namespace evnet
