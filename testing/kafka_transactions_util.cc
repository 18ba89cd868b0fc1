#include "testing/kafka_transactions_util.h"

#include <utility>

#include "absl/synchronization/notification.h"
#include "common/kafka/kafka_reader.h"
#include "gtest/gtest.h"

namespace evnet::test {

std::unique_ptr<KafkaTransactions> NewTransactions(const std::string& bootstrap,
                                                   const std::string& transactional_id) {
  KafkaTransactionsOptions options;
  options.bootstrap_servers = bootstrap;
  options.transactional_id = transactional_id;
  auto transactions = KafkaTransactions::Create(options);
  EXPECT_TRUE(transactions.ok()) << transactions.status();
  return transactions.ok() ? *std::move(transactions) : nullptr;
}

absl::Status CommitAndWait(KafkaTransactions& transactions, std::vector<KafkaRecord> records,
                           absl::Duration timeout) {
  // Shared with the callback, which may run after a timeout here.
  auto done = std::make_shared<absl::Notification>();
  auto status = std::make_shared<absl::Status>();
  transactions.Commit(std::move(records), [done, status](absl::Status committed) {
    *status = committed;
    done->Notify();
  });
  if (!done->WaitForNotificationWithTimeout(timeout)) {
    return absl::DeadlineExceededError("no answer from the transaction");
  }
  return *status;
}

std::vector<std::string> ReadCommitted(const std::string& bootstrap, const std::string& topic) {
  KafkaReaderOptions options;
  options.bootstrap_servers = bootstrap;
  options.partitions = {{topic, 0}};
  auto reader = KafkaReader::Create(options);
  EXPECT_TRUE(reader.ok()) << reader.status();
  std::vector<std::string> seen;
  if (!reader.ok()) return seen;
  absl::Status read = (*reader)->ReadToEnd(absl::Seconds(30), [&](const KafkaMessage& m) {
    seen.push_back(m.key + "=" + m.value);
    return absl::OkStatus();
  });
  EXPECT_TRUE(read.ok()) << read;
  return seen;
}

}  // namespace evnet::test
