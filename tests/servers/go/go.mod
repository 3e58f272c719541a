module numaload.test/goserver

go 1.19
