#include "common/trust/tls_settings.h"

#include <openssl/bio.h>
#include <openssl/conf.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace evnet {

namespace {

// Server contexts only read NumTickets; client contexts are unchanged.
constexpr char kSettings[] = R"(openssl_conf = evnet_init
[evnet_init]
ssl_conf = evnet_ssl
[evnet_ssl]
system_default = evnet_tls
[evnet_tls]
NumTickets = 0
)";

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no reason given";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

// The file OpenSSL configures itself from (OPENSSL_CONF, or its own
// openssl.cnf), if it names an ssl_conf of its own.
std::string SslConfOfTheDefaultConfiguration() {
  char* file = CONF_get1_default_config_file();
  CONF* conf = NCONF_new(nullptr);
  std::string found;
  if (file != nullptr && conf != nullptr && NCONF_load(conf, file, nullptr) == 1) {
    const char* init = NCONF_get_string(conf, nullptr, "openssl_conf");
    if (init != nullptr && NCONF_get_string(conf, init, "ssl_conf") != nullptr) found = file;
  }
  ERR_clear_error();  // a missing name is an error on the queue
  NCONF_free(conf);
  OPENSSL_free(file);
  return found;
}

absl::Status Apply() {
  // The default configuration first, once, as OpenSSL loads it for the
  // first SSL_CTX: loaded later, it would put its own ssl_conf in place of
  // ours.
  if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr) != 1) {
    return absl::InternalError(
        absl::StrCat("OpenSSL's configuration did not load: ", OpenSslError()));
  }
  // Ours would replace an operator's own TLS settings (OpenSSL keeps one
  // ssl_conf): theirs win.
  if (const std::string file = SslConfOfTheDefaultConfiguration(); !file.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "OpenSSL's configuration ", file,
        " has TLS settings of its own (ssl_conf), kept as they are: servers send session tickets"));
  }
  BIO* text = BIO_new_mem_buf(kSettings, sizeof(kSettings) - 1);
  CONF* conf = NCONF_new(nullptr);
  long error_line = -1;
  int loaded = 0;
  if (text != nullptr && conf != nullptr && NCONF_load_bio(conf, text, &error_line) == 1) {
    loaded = CONF_modules_load(conf, nullptr, 0);
  }
  absl::Status status = absl::OkStatus();
  if (loaded != 1) {
    status = absl::InternalError(absl::StrCat(
        "evnet's TLS settings were not taken by OpenSSL (servers still send session tickets): ",
        OpenSslError()));
  }
  NCONF_free(conf);
  BIO_free(text);
  return status;
}

}  // namespace

absl::Status UseEvnetTlsSettings() {
  static const absl::Status* const status = [] {
    auto* applied = new absl::Status(Apply());
    if (!applied->ok()) LOG(WARNING) << applied->message();
    return applied;
  }();
  return *status;
}

}  // namespace evnet
