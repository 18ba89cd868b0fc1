#include "common/files.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>

#include "absl/strings/match.h"
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

// What `body` returns, run in a child process in TEST_TMPDIR as user and
// group 65534 (Kubernetes' runAsUser and fsGroup); -1 when this process
// cannot become them. Paths in `body` are relative: the folders above
// TEST_TMPDIR may be closed to that user.
int ExitCodeAsAnotherUser(const std::function<int()>& body) {
  if (geteuid() != 0) return -1;
  const pid_t child = fork();
  if (child == 0) {
    if (chdir(getenv("TEST_TMPDIR")) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
      _exit(100);
    }
    _exit(body());
  }
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -2;
  return WEXITSTATUS(status) == 100 ? -1 : WEXITSTATUS(status);
}

TEST(FilesTest, AVolumeOfRootsThatOnlyItsGroupWritesIsUsedAsItIs) {
  // A Kubernetes volume: root's, of group fsGroup, setgid, others kept out.
  const std::string volume = TestDir("volume");
  ASSERT_EQ(mkdir(volume.c_str(), 0700), 0);
  ASSERT_EQ(chown(volume.c_str(), 0, 65534), 0);
  ASSERT_EQ(chmod(volume.c_str(), 02770), 0);
  const int used = ExitCodeAsAnotherUser([] {
    absl::Status made = MakePrivateDir("volume");
    if (!made.ok()) return 1;
    return WriteFileDurably("volume/journal.json", "{}").ok() ? 0 : 2;
  });
  if (used == -1) GTEST_SKIP() << "cannot run as another user here (not root)";
  EXPECT_EQ(used, 0);
  EXPECT_EQ(ModeOf(volume), 02770u & 0777) << "the volume's mode was changed";
  EXPECT_EQ(*ReadFile(volume + "/journal.json"), "{}");

  // One every user may write to (a /tmp) is not a place for a journal.
  const std::string open = TestDir("open");
  ASSERT_EQ(mkdir(open.c_str(), 0700), 0);
  ASSERT_EQ(chmod(open.c_str(), 01777), 0);
  EXPECT_EQ(ExitCodeAsAnotherUser([] {
              absl::Status made = MakePrivateDir("open");
              return absl::IsFailedPrecondition(made) &&
                             absl::StrContains(made.message(), "every user")
                         ? 0
                         : 1;
            }),
            0);
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
