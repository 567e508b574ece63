package chunker

import (
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// fileBasicInfo is FILE_BASIC_INFO, which carries the change time that
// BY_HANDLE_FILE_INFORMATION lacks (times are FILETIMEs: 100 ns since 1601).
type fileBasicInfo struct {
	CreationTime, LastAccessTime, LastWriteTime, ChangeTime int64
	FileAttributes                                          uint32
	_                                                       uint32
}

// stampID reads f's stamp with GetFileInformationByHandle (size, last
// write time, volume serial number, file index) and
// GetFileInformationByHandleEx (change time).
func stampID(f *os.File) (fileStamp, bool, error) {
	h := windows.Handle(f.Fd())
	var bi windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &bi); err != nil {
		return fileStamp{}, false, &os.PathError{Op: "GetFileInformationByHandle", Path: f.Name(), Err: err}
	}
	var basic fileBasicInfo
	if err := windows.GetFileInformationByHandleEx(h, windows.FileBasicInfo, (*byte)(unsafe.Pointer(&basic)), uint32(unsafe.Sizeof(basic))); err != nil {
		return fileStamp{}, false, &os.PathError{Op: "GetFileInformationByHandleEx", Path: f.Name(), Err: err}
	}
	ct := windows.Filetime{LowDateTime: uint32(basic.ChangeTime), HighDateTime: uint32(basic.ChangeTime >> 32)}
	return fileStamp{
		Size:  int64(bi.FileSizeHigh)<<32 | int64(bi.FileSizeLow),
		MTime: bi.LastWriteTime.Nanoseconds(),
		CTime: ct.Nanoseconds(),
		Dev:   uint64(bi.VolumeSerialNumber),
		Ino:   uint64(bi.FileIndexHigh)<<32 | uint64(bi.FileIndexLow),
	}, true, nil
}
