import video_index

video_index.main()
