{
  "targets": [
    {
      "target_name": "mlpkit",
      "sources": [
        "native/addon.cc",
        "native/mlp.cc",
        "native/moments.cc",
        "native/thread_pool.cc",
        "native/team.cc",
        "native/peak.cc",
        "native/gemm/gemm.cc",
        "native/gemm/cpu.cc",
        "native/gemm/ukernel_scalar.cc",
        "native/gemm/ukernel_avx2.cc",
        "native/gemm/ukernel_avx512.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      # -fno-math-errno: nothing reads errno, and with it sqrt could not be vectorized (Adam's
      # update ran one square root at a time); IEEE sqrt gives the same bits either way.
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "MACOSX_DEPLOYMENT_TARGET": "10.15",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fno-math-errno"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17", "/O2"] }
      }
    }
  ]
}
