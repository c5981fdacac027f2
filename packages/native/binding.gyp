{
  "targets": [
    {
      "target_name": "ct_native",
      "sources": ["native/blas.c", "native/adam.c", "native/reduce.c", "native/activation.c", "native/norm.c", "native/loss.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra"],
      "libraries": ["-ldl", "-lpthread", "-lm"]
    }
  ]
}
