{
  "targets": [
    {
      "target_name": "ct_blas",
      "sources": ["native/blas.c"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
