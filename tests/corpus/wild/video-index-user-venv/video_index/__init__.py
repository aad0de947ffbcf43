def main() -> None:
    print("video index")
