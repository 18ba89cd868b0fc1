#include "common/files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evnet {
namespace {

using ::testing::HasSubstr;

std::string TestDir(const std::string& name) {
  return std::string(getenv("TEST_TMPDIR")) + "/" + name;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(FilesTest, AStateFolderIsMadeThisUsersAlone) {
  const std::string dir = TestDir("made/state");
  ASSERT_TRUE(MakePrivateDir(dir).ok());
  EXPECT_EQ(ModeOf(dir), 0700u);
  // One left open to others is closed again.
  ASSERT_EQ(chmod(dir.c_str(), 0777), 0);
  ASSERT_TRUE(MakePrivateDir(dir).ok());
  EXPECT_EQ(ModeOf(dir), 0700u);
}

TEST(FilesTest, AStateFolderThatIsALinkOrAnothersIsRefused) {
  const std::string target = TestDir("elsewhere");
  ASSERT_TRUE(MakePrivateDir(target).ok());
  const std::string link = TestDir("linked");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  absl::Status linked = MakePrivateDir(link);
  EXPECT_TRUE(absl::IsFailedPrecondition(linked)) << linked;
  EXPECT_THAT(linked.message(), HasSubstr("not a folder"));

  const std::string theirs = TestDir("theirs");
  ASSERT_EQ(mkdir(theirs.c_str(), 0777), 0);
  if (chown(theirs.c_str(), 65534, 65534) != 0) {
    GTEST_SKIP() << "cannot give a folder to another user here (not root)";
  }
  absl::Status refused = MakePrivateDir(theirs);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("belongs to user 65534"));
}

TEST(FilesTest, AFileIsWrittenPrivatelyAndNeverThroughAPlantedLink) {
  const std::string dir = TestDir("write");
  ASSERT_TRUE(MakePrivateDir(dir).ok());
  const std::string victim = dir + "/victim";
  ASSERT_TRUE(WriteFileDurably(victim, "precious").ok());
  const std::string path = dir + "/journal.json";
  ASSERT_EQ(symlink(victim.c_str(), (path + ".tmp").c_str()), 0);

  ASSERT_TRUE(WriteFileDurably(path, "new").ok());
  EXPECT_EQ(*ReadFile(path), "new");
  EXPECT_EQ(*ReadFile(victim), "precious");
  EXPECT_EQ(ModeOf(path), 0600u);
  struct stat st;
  EXPECT_NE(lstat((path + ".tmp").c_str(), &st), 0) << "the temporary file was left";
}

TEST(FilesTest, DefaultStateFoldersAreUnderTheUsersHome) {
  setenv("XDG_STATE_HOME", "/home/ana/.state", 1);
  EXPECT_EQ(DefaultStateDir("CP-001"), "/home/ana/.state/evnet/CP-001");
  unsetenv("XDG_STATE_HOME");
  setenv("HOME", "/home/ana", 1);
  EXPECT_EQ(DefaultStateDir("drivers"), "/home/ana/.local/state/evnet/drivers");
}

}  // namespace
}  // namespace evnet
