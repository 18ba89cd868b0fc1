"""Fuzz targets that the normal build also runs, as tests.

    evnet_fuzz_target(name = "journal_fuzzer", srcs = [...], deps = [...])

`srcs` define `extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t)`.
The seed corpus lives in `testdata/fuzz/<name>/` of the package. Defines:

  <name>_lib          the target's code (a cc_library)
  <name>_replay_test  a test, built with any compiler, that feeds every
                      input of the seed corpus to the target once
  <name>              the libFuzzer binary; tagged manual, built only with
                      --config=fuzz (clang); `tools/ev fuzz <name> SECONDS`
"""

def evnet_fuzz_target(name, srcs, deps = []):
    corpus = "testdata/fuzz/%s" % name
    native.cc_library(
        name = name + "_lib",
        testonly = True,
        srcs = srcs,
        deps = deps,
        alwayslink = True,
    )
    native.cc_test(
        name = name + "_replay_test",
        size = "small",
        args = ["%s/%s" % (native.package_name(), corpus)],
        data = native.glob([corpus + "/**"]),
        deps = [
            ":" + name + "_lib",
            "//tools/fuzz:replay_main",
        ],
    )
    native.cc_binary(
        name = name,
        testonly = True,
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual", "fuzzer"],
        deps = [":" + name + "_lib"],
    )
