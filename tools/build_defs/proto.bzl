"""C++ code generation for evnet's .proto files with the system protoc.

    evnet_proto_library(name = "x", srcs = ["x.proto"], deps = [...], grpc = True)

defines three targets:
  x_proto     the .proto sources and those they import (for other x_proto deps)
  x_cc_proto  cc_library of the protobuf messages (x.pb.h)
  x_cc_grpc   cc_library of the gRPC services (x.grpc.pb.h), when grpc = True

Import paths are relative to the top-level `proto/` folder, so
proto/evnet/v1/events.proto is imported and included as evnet/v1/events.
"""

load("@system//:defs.bzl", "PROTOBUF_INCLUDE_DIR")

_PROTO_ROOT = "proto"

EvnetProtoInfo = provider(
    doc = "The .proto files of a target and of everything it imports.",
    fields = {
        "srcs": "depset of this target's .proto files",
        "transitive_srcs": "depset of these and every imported .proto file",
    },
)

def _proto_sources_impl(ctx):
    for src in ctx.files.srcs:
        if not src.short_path.startswith(_PROTO_ROOT + "/"):
            fail("%s: .proto files must live under %s/" % (src.short_path, _PROTO_ROOT))
    srcs = depset(ctx.files.srcs)
    transitive = depset(
        ctx.files.srcs,
        transitive = [dep[EvnetProtoInfo].transitive_srcs for dep in ctx.attr.deps],
    )
    return [
        DefaultInfo(files = srcs),
        EvnetProtoInfo(srcs = srcs, transitive_srcs = transitive),
    ]

_proto_sources = rule(
    implementation = _proto_sources_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = [".proto"]),
        "deps": attr.label_list(providers = [EvnetProtoInfo]),
    },
)

def _proto_gen_impl(ctx):
    info = ctx.attr.proto[EvnetProtoInfo]
    suffix = ".grpc.pb" if ctx.attr.grpc else ".pb"
    hdrs = []
    srcs = []
    for src in info.srcs.to_list():
        stem = src.basename[:-len(".proto")]
        hdrs.append(ctx.actions.declare_file(stem + suffix + ".h"))
        srcs.append(ctx.actions.declare_file(stem + suffix + ".cc"))

    out_root = ctx.bin_dir.path + "/" + _PROTO_ROOT
    args = ctx.actions.args()
    args.add("-I" + _PROTO_ROOT)
    args.add("-I" + PROTOBUF_INCLUDE_DIR)
    tools = []
    if ctx.attr.grpc:
        args.add("--plugin=protoc-gen-grpc=" + ctx.executable._grpc_plugin.path)
        args.add("--grpc_out=" + out_root)
        tools.append(ctx.executable._grpc_plugin)
    else:
        args.add("--cpp_out=" + out_root)
    args.add_all(info.srcs)

    ctx.actions.run(
        executable = ctx.executable._protoc,
        arguments = [args],
        inputs = info.transitive_srcs,
        tools = tools,
        outputs = hdrs + srcs,
        mnemonic = "EvnetProtoc",
        progress_message = "Generating C++%s for %s" % (" gRPC" if ctx.attr.grpc else "", ctx.label),
    )
    return [
        DefaultInfo(files = depset(hdrs + srcs)),
        OutputGroupInfo(hdrs = depset(hdrs), srcs = depset(srcs)),
    ]

_proto_gen = rule(
    implementation = _proto_gen_impl,
    attrs = {
        "proto": attr.label(providers = [EvnetProtoInfo]),
        "grpc": attr.bool(),
        "_protoc": attr.label(
            default = "@system//:protoc",
            executable = True,
            cfg = "exec",
            allow_single_file = True,
        ),
        "_grpc_plugin": attr.label(
            default = "@system//:grpc_cpp_plugin",
            executable = True,
            cfg = "exec",
            allow_single_file = True,
        ),
    },
)

def _cc_library_from_gen(name, gen, deps, visibility):
    native.filegroup(name = name + "_hdrs", srcs = [gen], output_group = "hdrs")
    native.filegroup(name = name + "_srcs", srcs = [gen], output_group = "srcs")

    # Generated code includes its headers as "evnet/v1/x.pb.h".
    native.cc_library(
        name = name,
        srcs = [name + "_srcs"],
        hdrs = [name + "_hdrs"],
        strip_include_prefix = "/" + _PROTO_ROOT,
        deps = deps,
        visibility = visibility,
    )

def evnet_proto_library(name, srcs, deps = [], grpc = False, visibility = None):
    """Defines name_proto, name_cc_proto and, with grpc = True, name_cc_grpc."""
    if not native.package_name().startswith(_PROTO_ROOT + "/"):
        fail("evnet_proto_library belongs under %s/" % _PROTO_ROOT)
    _proto_sources(
        name = name + "_proto",
        srcs = srcs,
        deps = [dep + "_proto" for dep in deps],
        visibility = visibility,
    )
    _proto_gen(name = name + "_pb_gen", proto = name + "_proto")
    _cc_library_from_gen(
        name = name + "_cc_proto",
        gen = name + "_pb_gen",
        deps = [dep + "_cc_proto" for dep in deps] + ["//third_party:protobuf"],
        visibility = visibility,
    )
    if grpc:
        _proto_gen(name = name + "_grpc_gen", proto = name + "_proto", grpc = True)
        _cc_library_from_gen(
            name = name + "_cc_grpc",
            gen = name + "_grpc_gen",
            deps = [name + "_cc_proto", "//third_party:grpc"],
            visibility = visibility,
        )
