from setuptools import find_packages, setup

setup(
    name="sqlfluffish",
    version="1.4.5",
    description="A stand-in for sqlfluff in drift's corpus",
    long_description=open("README.md").read(),
    package_dir={"": "src"},
    packages=find_packages(where="src"),
    install_requires=["click==8.1.7", "colorama==0.4.6"],
    entry_points={"console_scripts": ["sqlfluff = sqlfluffish:main"]},
)
