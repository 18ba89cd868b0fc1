// Run with OPENSSL_CONF naming tls_settings_test.cnf (see BUILD): an
// operator's configuration with TLS settings of its own. (Debian's, with
// none, is covered by transport_security_test's AServerSendsNoSessionTickets.)
#include "common/trust/tls_settings.h"

#include <openssl/ssl.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

using ::testing::HasSubstr;

TEST(TlsSettingsTest, AnOperatorsOwnTlsSettingsAreKeptAndSaidSo) {
  const absl::Status status = UseEvnetTlsSettings();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(status.message(), HasSubstr("tls_settings_test.cnf"));
  EXPECT_THAT(status.message(), HasSubstr("session tickets"));
  SSL_CTX* server = SSL_CTX_new(TLS_server_method());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(server), TLS1_3_VERSION) << "the operator's setting";
  EXPECT_EQ(SSL_CTX_get_num_tickets(server), 2u) << "OpenSSL's default, not ours";
  SSL_CTX_free(server);
  // The first call's answer is every call's.
  EXPECT_EQ(UseEvnetTlsSettings().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace evnet
