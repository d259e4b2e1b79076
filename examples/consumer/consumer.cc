// Built against the installed package by the install_and_find_package test.
#include <iostream>

#include "salescycle/machine.h"
#include "salescycle/version.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer MACHINE.textproto\n";
    return 2;
  }
  auto machine = salescycle::Machine::FromFile(argv[1]);
  if (!machine.ok()) {
    std::cerr << machine.status() << "\n";
    return 1;
  }
  std::cout << "consumer: " << (*machine)->name() << " v"
            << (*machine)->version() << " has " << (*machine)->num_stages()
            << " stages (salescycle " << SC_VERSION_STRING << ")\n";
  return 0;
}
