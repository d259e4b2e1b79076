module salescycle.dev/salescycle

go 1.19
