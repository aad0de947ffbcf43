from setuptools import find_packages, setup

setup(
    name="cb_idcheck",
    version="0.1",
    description="Commerceblock ID check (stand-in)",
    packages=find_packages(),
    entry_points={"console_scripts": ["idcheck=cb_idcheck.idcheck:main"]},
)
