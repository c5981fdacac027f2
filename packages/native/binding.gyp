{
  "variables": { "openmp%": "true" },
  "targets": [
    {
      "target_name": "ct_native",
      "sources": ["native/blas.c", "native/adam.c", "native/sgd.c", "native/reduce.c", "native/activation.c", "native/norm.c", "native/loss.c", "native/parallel.c", "native/transpose.c", "native/elementwise.c", "native/softmax.c"],
      "cflags": ["-O3", "-std=c11", "-fopenmp-simd", "-fno-math-errno", "-Wall", "-Wextra"],
      "conditions": [["openmp==\"true\"", { "cflags": ["-fopenmp"], "ldflags": ["-fopenmp"] }]],
      "libraries": ["-ldl", "-lpthread", "-lm"]
    }
  ]
}
