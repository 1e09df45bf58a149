import os
import platform

from fer.config import machine_description


def test_machine_description_names_the_architecture_and_cores():
    description = machine_description()
    assert description.startswith(platform.machine())
    assert description.endswith(f"{os.cpu_count()} cores")
