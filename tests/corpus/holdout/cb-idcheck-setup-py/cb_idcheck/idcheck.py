import argparse


def main():
    parser = argparse.ArgumentParser(description="check an applicant's documents")
    parser.add_argument("applicant")
    args = parser.parse_args()
    print(f"checking {args.applicant}")
