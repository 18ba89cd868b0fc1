// PickFreePort: what a system test relies on when it starts a server on the
// port it was given.
#include "testing/process.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace evnet::test {
namespace {

int EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  int high = 0;
  return in >> low >> high ? low : 0;
}

TEST(PickFreePortTest, GivesEachPortOnceBelowTheEphemeralRange) {
  const int ephemeral_low = EphemeralLow();
  std::set<int> ports;
  for (int i = 0; i < 50; ++i) {
    const int port = PickFreePort();
    ASSERT_GT(port, 0);
    EXPECT_TRUE(ports.insert(port).second) << port << " given twice";
    if (ephemeral_low > 16000) {
      EXPECT_LT(port, ephemeral_low) << "inside the range outgoing connections take ports from";
    }
  }
}

TEST(PickFreePortTest, APortGivenIsClaimedAgainstOtherTestProcesses) {
  const int port = PickFreePort();
  ASSERT_GT(port, 0);
  if (EphemeralLow() <= 16000) GTEST_SKIP() << "no range below the ephemeral one here";
  // Another process trying the same claim opens the file anew: flock then
  // fails, as it does for a second open file in this process.
  const std::string path = absl::StrCat("/tmp/evnet-test-ports/", port);
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path;
  EXPECT_NE(flock(fd, LOCK_EX | LOCK_NB), 0) << "port " << port << " is not claimed";
  close(fd);
}

}  // namespace
}  // namespace evnet::test
