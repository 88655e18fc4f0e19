// ~/.docker/config.json: reading auths in their several spellings, writing them back
// atomically without losing other keys, and credential helpers run from PATH.
#include "registry/credential_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"

namespace mkimg::registry {
namespace {

namespace fs = std::filesystem;

/// A temp directory for one test.
struct Dir {
  fs::path path;
  Dir() {
    std::string t = (fs::temp_directory_path() / "mkimg-cred-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~Dir() { fs::remove_all(path); }
  fs::path file() const { return path / "config.json"; }
  void write(const std::string& name, const std::string& text,
             fs::perms perms = fs::perms(0600)) const {
    std::ofstream(path / name) << text;
    fs::permissions(path / name, perms);
  }
  std::string read(const std::string& name) const {
    std::ifstream in(path / name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
};

TEST(CredentialStore, ReadsBase64AuthByHostAndPort) {
  Dir d;
  d.write("config.json", R"({"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpwYTpzcw=="}}})");
  auto c = find_credential(d.file(), "127.0.0.1:5000");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "user");
  EXPECT_EQ(c->secret, "pa:ss");  // only the first colon separates
  EXPECT_FALSE(find_credential(d.file(), "127.0.0.1:5001"));
}

TEST(CredentialStore, UrlKeysMatchTheirHostAndDockerHubUsesItsLegacyKey) {
  Dir d;
  d.write("config.json", R"({"auths":{"https://index.docker.io/v1/":{"auth":"aHViOmh1Yg=="},)"
                         R"("https://reg.example.com/v2/":{"auth":"cmVnOnJlZw=="}}})");
  EXPECT_EQ(find_credential(d.file(), "docker.io")->username, "hub");
  EXPECT_EQ(find_credential(d.file(), "reg.example.com")->username, "reg");
}

TEST(CredentialStore, MissingFileMeansNoCredential) {
  Dir d;
  EXPECT_FALSE(find_credential(d.path / "nope.json", "docker.io"));
}

TEST(CredentialStore, MalformedFileOrAuthIsAnError) {
  Dir d;
  d.write("config.json", "{not json");
  EXPECT_THROW(find_credential(d.file(), "x.io"), Error);
  d.write("config.json", R"({"auths":{"x.io":{"auth":"bm9jb2xvbg=="}}})");  // "nocolon"
  EXPECT_THROW(find_credential(d.file(), "x.io"), Error);
}

TEST(CredentialStore, StoreKeepsOtherKeysAndWritesMode0600) {
  Dir d;
  d.write("config.json", R"({"auths":{"a.io":{"auth":"YTpi"}},"psFormat":"table"})",
          fs::perms(0644));
  store_credential(d.file(), "b.io:5000", {"bob", "pw"});
  auto j = nlohmann::json::parse(d.read("config.json"));
  EXPECT_EQ(j["psFormat"], "table");
  EXPECT_EQ(j["auths"]["a.io"]["auth"], "YTpi");
  EXPECT_EQ(j["auths"]["b.io:5000"]["auth"], "Ym9iOnB3");
  EXPECT_EQ(fs::status(d.file()).permissions() & fs::perms::all, fs::perms(0600));
  EXPECT_EQ(find_credential(d.file(), "b.io:5000"), (Credential{"bob", "pw"}));
  for (const auto& e : fs::directory_iterator(d.path)) {
    EXPECT_EQ(e.path().filename(), "config.json") << "temp file left behind";
  }
}

TEST(CredentialStore, EraseRemovesEverySpellingOfTheHostOnly) {
  Dir d;
  d.write(
      "config.json",
      R"({"auths":{"https://c.io/v1/":{"auth":"YTpi"},"c.io":{"auth":"YTpi"},"d.io":{"auth":"YTpi"}}})");
  EXPECT_TRUE(erase_credential(d.file(), "c.io"));
  EXPECT_FALSE(find_credential(d.file(), "c.io"));
  EXPECT_TRUE(find_credential(d.file(), "d.io"));
  EXPECT_FALSE(erase_credential(d.file(), "c.io"));
}

TEST(CredentialStore, CredentialKeyOfDockerHub) {
  EXPECT_EQ(credential_key("docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(credential_key("index.docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(credential_key("ghcr.io"), "ghcr.io");
}

/// A fake docker-credential-test helper on PATH that answers from a file and logs calls.
struct HelperOnPath {
  Dir dir;
  std::string old_path;
  HelperOnPath() {
    dir.write(
        "docker-credential-test",
        "#!/bin/sh\nread -r input\necho \"$1 $input\" >> " + (dir.path / "calls").string() +
            "\n"
            "case \"$1\" in get) if [ \"$input\" = 'reg.io' ]; then "
            "echo '{\"ServerURL\":\"reg.io\",\"Username\":\"helper-user\",\"Secret\":\"tok\"}'; "
            "else echo 'credentials not found in native keychain'; exit 1; fi;; esac\n",
        fs::perms(0755));
    old_path = std::getenv("PATH");
    ::setenv("PATH", (dir.path.string() + ":" + old_path).c_str(), 1);
  }
  ~HelperOnPath() { ::setenv("PATH", old_path.c_str(), 1); }
};

TEST(CredentialStore, CredHelpersEntryRunsTheHostHelper) {
  HelperOnPath helper;
  Dir d;
  d.write("config.json", R"({"credHelpers":{"reg.io":"test"},"auths":{"reg.io":{"auth":"YTpi"}}})");
  auto c = find_credential(d.file(), "reg.io");
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, (Credential{"helper-user", "tok"}));
  EXPECT_EQ(helper.dir.read("calls"), "get reg.io\n");
}

TEST(CredentialStore, CredsStoreAnswersNotFoundAsNoCredentialAndStoresThroughTheHelper) {
  HelperOnPath helper;
  Dir d;
  d.write("config.json", R"({"credsStore":"test"})");
  EXPECT_FALSE(find_credential(d.file(), "other.io"));
  store_credential(d.file(), "other.io", {"u", "p"});
  EXPECT_NE(helper.dir.read("calls").find(
                R"(store {"Secret":"p","ServerURL":"other.io","Username":"u"})"),
            std::string::npos)
      << helper.dir.read("calls");
  EXPECT_EQ(d.read("config.json"), R"({"credsStore":"test"})") << "secret must not be in the file";
}

TEST(CredentialStore, HelperNamesWithAPathAreRefused) {
  Dir d;
  d.write("config.json", R"({"credHelpers":{"reg.io":"../../tmp/evil"}})");
  EXPECT_THROW(find_credential(d.file(), "reg.io"), Error);
}

}  // namespace
}  // namespace mkimg::registry
