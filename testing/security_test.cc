// Attacks on a running network, secured as tools/ev deploys it (real
// processes, the real broker, certificates from tools/pki/evpki): each is
// refused, nothing else is disturbed, and the audit log says so once.
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/network.h"

namespace evnet::test {
namespace {

using ::testing::HasSubstr;

// The audit records of `action` on `target` with `result`.
std::vector<v1::AuditRecord> Matching(const std::vector<v1::AuditRecord>& all,
                                      const std::string& action, const std::string& target,
                                      const std::string& result) {
  std::vector<v1::AuditRecord> out;
  for (const v1::AuditRecord& r : all) {
    if (r.action() == action && r.target() == target && r.result() == result) out.push_back(r);
  }
  return out;
}

TEST(SecurityTest, ARevokedCpIsCutOffWithinASecondAndBackOnlyWhenEnrolledAgain) {
  auto started = Network::Start({CpSpec{}, CpSpec{}});
  ASSERT_TRUE(started.ok()) << started.status();
  Network& n = **started;

  const absl::Time revoked_at = absl::Now();
  ASSERT_TRUE(n.Revoke(2).ok());
  // The link is closed at once: DISCONNECTED as soon as central sweeps.
  ASSERT_TRUE(n.WaitForStatus("CP-002", v1::CP_STATUS_DISCONNECTED, absl::Seconds(1)))
      << n.LogOf("central");
  EXPECT_LT(absl::Now() - revoked_at, absl::Seconds(1));
  EXPECT_TRUE(WaitFor(
      [&] { return n.LogOf("cp-m-2").find("CP-002 was revoked") != std::string::npos; },
      absl::Seconds(5)))
      << n.LogOf("cp-m-2");
  // It keeps trying, and stays out; CP-001 is undisturbed.
  EXPECT_FALSE(n.WaitForStatus("CP-002", v1::CP_STATUS_ACTIVE, absl::Seconds(3)));
  EXPECT_EQ(n.Status("CP-001"), v1::CP_STATUS_ACTIVE);

  // Enrolled again with a new certificate, which its programs read from
  // disk without a restart.
  ASSERT_TRUE(n.Enrol(2).ok());
  EXPECT_TRUE(n.WaitForStatus("CP-002", v1::CP_STATUS_ACTIVE, absl::Seconds(20)))
      << n.LogOf("cp-m-2");
  EXPECT_TRUE(n.process("cp-m-2")->Running());
  EXPECT_TRUE(n.process("cp-e-2")->Running());

  std::vector<v1::AuditRecord> audit;
  ASSERT_TRUE(WaitFor(
      [&] {
        audit = n.Audit();
        return !Matching(audit, "cp.revoke", "CP-002", "done").empty();
      },
      absl::Seconds(10)));
  const std::vector<v1::AuditRecord> revoked = Matching(audit, "cp.revoke", "CP-002", "done");
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].actor(), "operator test-operator");
  // Its retries, refused, within a minute: one record; and perhaps one
  // more for the old certificate, if it retried after the new enrolment and
  // before it read its new files.
  std::vector<v1::AuditRecord> revoked_refusals, other_refusals;
  for (const v1::AuditRecord& r : Matching(audit, "monitor.register", "CP-002", "refused")) {
    EXPECT_EQ(r.actor(), "cp CP-002");
    (r.reason() == "CP-002 was revoked" ? revoked_refusals : other_refusals).push_back(r);
  }
  EXPECT_EQ(revoked_refusals.size(), 1u);
  ASSERT_LE(other_refusals.size(), 1u);
  for (const v1::AuditRecord& r : other_refusals) {
    EXPECT_THAT(r.reason(), HasSubstr("enrolled with another certificate"));
  }
  EXPECT_EQ(Matching(audit, "cp.enrol", "CP-002", "done").size(), 2u);  // at start, and again
}

TEST(SecurityTest, MonitorsWithoutAValidCertificateOfTheirOwnCpNeverGetIn) {
  auto started = Network::Start({CpSpec{}});
  ASSERT_TRUE(started.ok()) << started.status();
  Network& n = **started;
  const std::string other_ca = n.dir() + "/other-pki";
  ASSERT_EQ(std::system(absl::StrCat("tools/pki/evpki init ", other_ca, " && tools/pki/evpki issue ",
                                     other_ca, " cp CP-001 >/dev/null")
                            .c_str()),
            0);
  // A certificate of the network's own CA for CP-001, expired at once.
  const std::string expired = n.dir() + "/expired-pki";
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p ", expired, " && cp ", n.pki_dir(), "/ca.* ", expired,
                                     " && tools/pki/evpki issue ", expired, " cp CP-001 0")
                            .c_str()),
            0);
  ASSERT_TRUE(n.Kill("cp-m-1").ok());
  ASSERT_TRUE(n.WaitForStatus("CP-001", v1::CP_STATUS_DISCONNECTED, absl::Seconds(10)));

  const std::string pki = n.pki_dir();
  auto flags = [&](const std::string& dir, const std::string& name) {
    return std::vector<std::string>{"--tls_ca=" + pki + "/ca.crt",
                                    absl::StrCat("--tls_cert=", dir, "/cp/", name, ".crt"),
                                    absl::StrCat("--tls_key=", dir, "/cp/", name, ".key")};
  };
  // Plaintext, a certificate of another CA, an expired one: the handshake fails.
  ASSERT_TRUE(n.StartMonitor(1, "plaintext", {"--insecure"}).ok());
  ASSERT_TRUE(n.StartMonitor(1, "other-ca", flags(other_ca, "CP-001")).ok());
  ASSERT_TRUE(n.StartMonitor(1, "expired", flags(expired, "CP-001")).ok());
  // Another CP's certificate: the monitor itself will not speak as CP-001.
  ASSERT_TRUE(n.Pki("issue", "cp CP-002").ok());
  ASSERT_TRUE(n.StartMonitor(1, "other-cp", flags(pki, "CP-002")).ok());
  EXPECT_TRUE(WaitFor([&] { return !n.process("other-cp")->Running(); }, absl::Seconds(10)));
  EXPECT_THAT(n.LogOf("other-cp"), HasSubstr("names cp CP-002, not cp CP-001"));

  EXPECT_FALSE(n.WaitForStatus("CP-001", v1::CP_STATUS_ACTIVE, absl::Seconds(5)));
  for (const char* name : {"plaintext", "other-ca", "expired"}) {
    EXPECT_TRUE(n.process(name)->Running()) << name << " keeps trying, and says why";
    EXPECT_THAT(n.LogOf(name), HasSubstr("Central unavailable")) << name;
  }
  EXPECT_THAT(n.LogOf("central"), HasSubstr("Handshake failed"));
  EXPECT_TRUE(n.process("central")->Running());
  // The CP's own monitor gets back in.
  ASSERT_TRUE(n.Restart("cp-m-1").ok());
  EXPECT_TRUE(n.WaitForStatus("CP-001", v1::CP_STATUS_ACTIVE, absl::Seconds(15)));
}

}  // namespace
}  // namespace evnet::test
