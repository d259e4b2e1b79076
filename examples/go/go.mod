module salescycle.dev/examples/b2b

go 1.19

require salescycle.dev/salescycle v0.0.0

replace salescycle.dev/salescycle => ../../capi/go/salescycle
