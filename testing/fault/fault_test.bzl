"""One fault test: a cc_test over the fault fixture, run alone."""

def fault_test(name, deps = [], size = "large"):
    native.cc_test(
        name = name,
        size = size,
        srcs = [name + ".cc"],
        tags = [
            "exclusive",
            "fault",
            "kafka",
        ],
        deps = [":fault_test_base"] + deps,
    )
