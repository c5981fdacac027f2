{
  "targets": [
    {
      "target_name": "ct_native",
      "sources": ["native/blas.c", "native/adam.c", "native/reduce.c", "native/activation.c", "native/norm.c", "native/loss.c", "native/parallel.c", "native/transpose.c", "native/elementwise.c"],
      "cflags": ["-O3", "-std=c11", "-fopenmp", "-fno-math-errno", "-Wall", "-Wextra"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldl", "-lpthread", "-lm"]
    }
  ]
}
