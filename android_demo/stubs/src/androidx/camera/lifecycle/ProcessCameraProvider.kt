package androidx.camera.lifecycle

import android.content.Context
import androidx.camera.core.Camera
import androidx.camera.core.CameraInfoUnavailableException
import androidx.camera.core.CameraSelector
import androidx.camera.core.UseCase
import androidx.lifecycle.LifecycleOwner
import com.google.common.util.concurrent.ListenableFuture

// androidx.camera:camera-lifecycle 1.5 (Kotlin; camera/camera-lifecycle/api/current.txt):
// getInstance is on the companion and @JvmStatic.
class ProcessCameraProvider private constructor() {
    fun bindToLifecycle(lifecycleOwner: LifecycleOwner, cameraSelector: CameraSelector, vararg useCases: UseCase?): Camera =
        throw RuntimeException("Stub!")

    @Throws(CameraInfoUnavailableException::class)
    fun hasCamera(cameraSelector: CameraSelector): Boolean = throw RuntimeException("Stub!")

    fun unbindAll(): Unit = throw RuntimeException("Stub!")

    companion object {
        @JvmStatic
        fun getInstance(context: Context): ListenableFuture<ProcessCameraProvider> = throw RuntimeException("Stub!")
    }
}
