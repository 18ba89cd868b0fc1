// The gateway's readiness (GET /readyz on its OCPP port), against
// librdkafka's in-process mock cluster.
#include "ocpp_gateway/gateway.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/kafka/topics.h"
#include "gtest/gtest.h"
#include "testing/mock_kafka.h"
#include "testing/process.h"

namespace evnet::ocpp {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

// A plain HTTP GET to the gateway: the status and the body.
std::pair<int, std::string> Get(int port, const std::string& target) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, "127.0.0.1");
  http::write(socket, request);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  return {response.result_int(), response.body()};
}

class GatewayTest : public ::testing::Test {
 protected:
  Gateway& Start(bool replace_when_fatal) {
    GatewayOptions options;
    options.listen = "127.0.0.1:0";
    options.central_address = "127.0.0.1:1";  // never reached: no charger connects
    options.state_dir = std::string(std::getenv("TEST_TMPDIR")) + "/gateway";
    options.kafka.bootstrap_servers = cluster_.bootstrap();
    options.kafka.replace_when_fatal = replace_when_fatal;
    auto gateway = Gateway::Start(options);
    EXPECT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
    return *gateway_;
  }

  test::MockKafkaCluster cluster_{{{kOcppChargersTopic, 1}, {kIdTokensTopic, 1}}};
  std::unique_ptr<Gateway> gateway_;  // destroyed before the cluster
};

TEST_F(GatewayTest, IsReadyOnceItListensAndNotWhileItsKafkaProducerHasFailedForGood) {
  Gateway& gateway = Start(/*replace_when_fatal=*/false);
  EXPECT_EQ(Get(gateway.port(), "/readyz"), std::make_pair(200, std::string("ready\n")));

  gateway.InjectKafkaFatalErrorForTesting("the broker fenced this producer");
  const auto [status, body] = Get(gateway.port(), "/readyz");
  EXPECT_EQ(status, 503);
  EXPECT_TRUE(absl::StrContains(body, "the Kafka producer failed for good")) << body;
  EXPECT_TRUE(absl::StrContains(body, "the broker fenced this producer")) << body;
  // Any other plain request is still refused as before.
  EXPECT_EQ(Get(gateway.port(), "/ocpp/CP-1").first, 400);
}

TEST_F(GatewayTest, IsReadyAgainOnceItsFailedKafkaProducerIsReplaced) {
  Gateway& gateway = Start(/*replace_when_fatal=*/true);
  gateway.InjectKafkaFatalErrorForTesting("the broker fenced this producer");
  EXPECT_EQ(Get(gateway.port(), "/readyz").first, 503);
  EXPECT_TRUE(test::WaitFor([&] { return Get(gateway.port(), "/readyz").first == 200; },
                            absl::Seconds(20)));
}

}  // namespace
}  // namespace evnet::ocpp
